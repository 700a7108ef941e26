// The event log stays small (rotation by size, a bounded number of files) and `mailroom log` reads
// only what it is asked for: -n, --since, --task, and --follow from now (it replayed everything first,
// and its JSON lines had no schemaVersion).

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvent, type MailroomEvent, readEvents, rotatedFiles } from '../../src/events/log.js';
import { followEvents, queryEvents } from '../../src/events/query.js';
import { BIN, newMailroom, REPO, tempDir } from '../support/cli.js';
import { pollUntil } from '../support/poll.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir('mailroom-events-');
});
afterAll(async () => tmp.cleanup());

const ev = (id: string, at = new Date().toISOString()): MailroomEvent => ({ at, type: 'test.event', id });

describe('event log rotation', () => {
  it('events.jsonl no longer grows forever: it rotates by size and keeps a bounded number of files', async () => {
    const dir = join(tmp.dir, 'rotate');
    await mkdir(dir);
    const path = join(dir, 'events.jsonl');
    const limits = { maxBytes: 2_000, keep: 3 };
    for (let i = 0; i < 500; i++) await appendEvent(path, ev(`e${i}`), limits);
    expect((await rotatedFiles(path)).length).toBe(3);
    expect(readdirSync(dir).length).toBe(4);
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).size).toBeLessThan(2_000 + 200);
    // What is kept is the newest events, in order, without a gap.
    const ids = (await readEvents(path)).map((e) => Number(e.id?.slice(1)));
    expect(ids.at(-1)).toBe(499);
    expect(ids).toEqual(ids.map((_, i) => ids[0]! + i));
    expect(ids.length).toBeGreaterThan(50);
    expect(ids.length).toBeLessThan(200);
  });

  it('four processes appending through rotations lose no event and duplicate none', async () => {
    const dir = join(tmp.dir, 'concurrent');
    await mkdir(dir);
    const path = join(dir, 'events.jsonl');
    const mod = join(REPO, 'dist/src/events/log.js');
    const writers = [0, 1, 2, 3].map(
      (w) =>
        new Promise<number | null>((resolve) => {
          const p = spawn(process.execPath, [
            join(REPO, 'test/fixtures/append-events.mjs'),
            mod,
            path,
            `w${w}`,
            '250',
            '3000',
            '10000',
          ]);
          p.on('exit', resolve);
        }),
    );
    expect(await Promise.all(writers)).toEqual([0, 0, 0, 0]);
    expect((await rotatedFiles(path)).length).toBeGreaterThan(5);
    const ids = (await readEvents(path)).map((e) => e.id);
    expect(ids.length).toBe(1000);
    expect(new Set(ids).size).toBe(1000);
  });

  /** Follows a fresh log polled every `intervalMs`, appends `n` events through rotations, returns what was seen. */
  async function followWhileAppending(name: string, intervalMs: number, n: number): Promise<string[]> {
    const dir = join(tmp.dir, name);
    await mkdir(dir);
    const path = join(dir, 'events.jsonl');
    const limits = { maxBytes: 1_000, keep: 50 };
    await appendEvent(path, ev('before'), limits);
    const seen: string[] = [];
    const controller = new AbortController();
    let started!: () => void;
    const start = new Promise<void>((resolve) => {
      started = resolve;
    });
    const following = followEvents(path, (e) => seen.push(e.id ?? ''), {
      signal: controller.signal,
      intervalMs,
      onStart: started,
    });
    await start; // "from now" is fixed before the first append
    for (let i = 0; i < n; i++) await appendEvent(path, ev(`e${i}`), limits);
    expect((await rotatedFiles(path)).length).toBeGreaterThanOrEqual(2);
    await pollUntil('every event followed', () => seen.length >= n, 20_000);
    controller.abort();
    await following;
    return seen;
  }

  it('followEvents carries on across a rotation without skipping an event', async () => {
    const seen = await followWhileAppending('follow', 5, 100);
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => `e${i}`));
  });

  it('followEvents reads every file rotated between two looks, not only the newest', async () => {
    // A slow follower: several rotations happen while it sleeps.
    const seen = await followWhileAppending('follow-many', 1_000, 60);
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => `e${i}`));
  });

  it('queryEvents -n reads only the newest file when it holds enough; --since stops at older files', async () => {
    const dir = join(tmp.dir, 'query');
    await mkdir(dir);
    const path = join(dir, 'events.jsonl');
    const limits = { maxBytes: 1_000, keep: 50 };
    for (let i = 0; i < 100; i++)
      await appendEvent(
        path,
        ev(`e${i}`, `2026-01-01T00:${String(Math.floor(i / 2)).padStart(2, '0')}:00Z`),
        limits,
      );
    expect((await queryEvents(path, { last: 3 })).map((e) => e.id)).toEqual(['e97', 'e98', 'e99']);
    const since = await queryEvents(path, { since: Date.parse('2026-01-01T00:45:00Z') });
    expect(since.map((e) => e.id)).toEqual([
      'e90',
      'e91',
      'e92',
      'e93',
      'e94',
      'e95',
      'e96',
      'e97',
      'e98',
      'e99',
    ]);
    expect(
      (await queryEvents(path, { last: 2, match: (e) => e.id?.endsWith('0') ?? false })).map((e) => e.id),
    ).toEqual(['e80', 'e90']);
  });
});

describe('mailroom log', () => {
  it('-n N prints the last N events; --since takes a time or a duration ago', async () => {
    const m = await newMailroom([]);
    try {
      for (const t of ['one', 'two', 'three']) expect((await m.mr(['send', 'human', t])).code).toBe(0);
      const last = await m.mr(['log', '-n', '2', '--json']);
      const events = JSON.parse(last.stdout).events as MailroomEvent[];
      expect(events).toHaveLength(2);
      expect(events.map((e) => e.title ?? e.type)).not.toContain('one');
      expect((await m.mr(['log', '--since', '1h'])).stdout.trim().split('\n').length).toBeGreaterThanOrEqual(
        3,
      );
      expect((await m.mr(['log', '--since', '2999-01-01'])).stdout).toBe('');
      const bad = await m.mr(['log', '--since', 'yesterday-ish']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/invalid --since "yesterday-ish"\n.*duration ago/);
    } finally {
      await m.cleanup();
    }
  });

  it('log --follow starts from now (it replayed the whole log first) and its JSON lines carry schemaVersion', async () => {
    const m = await newMailroom([]);
    try {
      const old = (await m.mr(['send', 'human', 'an old task'])).stdout.trim();
      const follower = spawn(process.execPath, [BIN, 'log', '--follow', '--json', '--root', m.root]);
      let out = '';
      follower.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        // Send until the follower shows one: it has started by then, whatever the machine's load.
        const sent: string[] = [];
        await pollUntil(
          'the follower to print a new event',
          async () => {
            sent.push((await m.mr(['send', 'human', 'a new task'])).stdout.trim());
            return sent.some((id) => out.includes(id));
          },
          30_000,
          200,
        );
        const lines = out
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as MailroomEvent & { schemaVersion: number });
        expect(lines.every((l) => l.schemaVersion === 1)).toBe(true);
        expect(lines.some((l) => l.id === old)).toBe(false);
      } finally {
        follower.kill('SIGINT');
      }
      const fromStart = spawn(process.execPath, [BIN, 'log', '--follow', '--from-start', '--root', m.root]);
      let all = '';
      fromStart.stdout.on('data', (d: Buffer) => (all += d.toString()));
      try {
        await pollUntil('--from-start to print the old event', () => all.includes(old), 30_000);
      } finally {
        fromStart.kill('SIGINT');
      }
    } finally {
      await m.cleanup();
    }
  });
});
