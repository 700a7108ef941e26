import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { isTempName, parseRelPath, tempNameFor } from '../../src/endpoint/rel-path.js';
import { mapLimit } from '../../src/map-limit.js';
import { hostKeyPreference } from '../../src/ssh/connect.js';

describe('parseRelPath', () => {
  const good: [string, string[]][] = [
    ['a', ['a']],
    [
      'agents/research/inbox/20261122-101500-k3f9.md',
      ['agents', 'research', 'inbox', '20261122-101500-k3f9.md'],
    ],
    ['.hidden/..x/x..', ['.hidden', '..x', 'x..']],
  ];
  it.each(good)('%j', (rel, want) => expect(parseRelPath(rel, 'ep')).toEqual(want));

  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['/etc', /absolute/],
    ['a/../b', /"\.\." segment/],
    ['..', /"\.\." segment/],
    ['./a', /"\." segment/],
    ['a//b', /empty segment/],
    ['a/', /empty segment/],
    ['a\0', /NUL/],
  ];
  it.each(bad)('refuses %j', (rel, why) => expect(() => parseRelPath(rel, 'ep')).toThrow(why));

  it('the root is "" only where allowed', () => {
    expect(parseRelPath('', 'ep', { allowRoot: true })).toEqual([]);
  });
});

describe('temp names', () => {
  it('start with "." and hold ".tmp" (docs/spec.md §1), and are recognised', () => {
    const t = tempNameFor('t1.md');
    expect(t).toMatch(/^\.t1\.md\.tmp-[0-9a-f]{12}$/);
    expect(isTempName(t)).toBe(true);
    expect(isTempName('t1.md')).toBe(false);
    expect(tempNameFor('t1.md')).not.toBe(t);
  });
});

describe('mapLimit', () => {
  it('keeps order and never exceeds the limit', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await delay(n);
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0, 60]);
    expect(peak).toBe(3);
  });

  it('rejects with the first error only after in-flight calls settled, and starts no new ones', async () => {
    const started: number[] = [];
    let inFlight = 0;
    const run = mapLimit([0, 1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      inFlight++;
      await delay(n === 0 ? 1 : 20);
      inFlight--;
      if (n === 0) throw new Error('first');
      if (n === 1) throw new Error('second');
      return n;
    });
    await expect(run).rejects.toThrow('first');
    expect(inFlight).toBe(0);
    expect(started).toEqual([0, 1]);
  });

  it('handles an empty list', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });
});

describe('hostKeyPreference', () => {
  it('puts the key types known_hosts holds first, RSA as its SHA-2 signatures', () => {
    expect(hostKeyPreference(['ssh-rsa']).slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(hostKeyPreference(['ecdsa-sha2-nistp256'])[0]).toBe('ecdsa-sha2-nistp256');
    const all = hostKeyPreference(['ssh-ed25519', 'unknown-type']);
    expect(all[0]).toBe('ssh-ed25519');
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(7);
  });
});
