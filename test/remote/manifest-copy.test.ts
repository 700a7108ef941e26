// The hub's copy of the far agent's last manifest (src/remote/manifest-copy.ts), on real files: kept
// and read back for the same agents and generation only; its generation read from the file's head
// alone; a damaged or foreign copy is no copy (the pass then asks for the whole manifest).

import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManifestCopy } from '../../src/remote/manifest-copy.js';
import type { Manifest } from '../../src/remote/protocol.js';

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-copy-'));
  path = join(dir, 'sync', 'vps.far-manifest.json');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const manifest: Manifest = {
  records: { 'agents/a/inbox/t1.md': [10, 1000, 'a'.repeat(64), 0, 5000] },
  tasks: [['t1', 'agents/a/inbox/t1.md']],
  files: [],
  problems: [],
  reads: 1,
};

describe('the hub copy of the last manifest', () => {
  it('is kept in memory at once and in its file, and read back by a new process for the same agents', async () => {
    const copy = new ManifestCopy(path, ['a', 'b']);
    expect(copy.generation()).toBeUndefined();
    copy.keep('mx1-abc', manifest);
    expect(copy.generation()).toBe('mx1-abc');
    await copy.settled();
    const later = new ManifestCopy(path, ['a', 'b']);
    expect(later.generation()).toBe('mx1-abc');
    expect(await later.load('mx1-abc')).toEqual(manifest);
    expect(await later.load('mx2-other')).toBeUndefined();
  });

  it('on a kept connection (deferMs), is written at most that often, the latest, and when settled', async () => {
    const copy = new ManifestCopy(path, ['a'], 60_000);
    copy.keep('mx1-abc', manifest);
    copy.keep('mx2-def', { ...manifest, reads: 2 });
    expect(await copy.load('mx2-def')).toEqual({ ...manifest, reads: 2 }); // held in memory
    // Not written at each keep: a copy that writes at once has its file long before this (a file
    // that does not appear can only be waited for; the wait is bounded and asserts an absence).
    await new Promise<void>((r) => setTimeout(r, 300));
    expect(existsSync(path)).toBe(false);
    await copy.settled(); // as the link closes
    const later = new ManifestCopy(path, ['a']);
    expect(later.generation()).toBe('mx2-def');
  });

  it('a load under way is shared (the hub starts one as it asks, the reply finds it), then held', async () => {
    const copy = new ManifestCopy(path, ['a']);
    copy.keep('mx1-abc', manifest);
    await copy.settled();
    const later = new ManifestCopy(path, ['a']);
    const first = later.load('mx1-abc');
    expect(later.load('mx1-abc')).toBe(first);
    expect(await first).toEqual(manifest);
    // Held now: the file is not read again (it is gone, and the copy still answers).
    await rm(path);
    expect(await later.load('mx1-abc')).toEqual(manifest);
  });

  it('is no copy for another set of agents', async () => {
    const copy = new ManifestCopy(path, ['a', 'b']);
    copy.keep('mx1-abc', manifest);
    await copy.settled();
    const other = new ManifestCopy(path, ['a']);
    expect(other.covers(['a'])).toBe(true);
    expect(copy.covers(['a'])).toBe(false);
    expect(other.generation()).toBeUndefined();
    expect(await other.load('mx1-abc')).toBeUndefined();
  });

  it('a damaged copy is no copy', async () => {
    const copy = new ManifestCopy(path, ['a']);
    copy.keep('mx1-abc', manifest);
    await copy.settled();
    const text = await readFile(path, 'utf8');
    for (const damaged of [
      text.slice(0, text.length / 2), // cut short
      text.replace('"records"', '"recordz"'), // not a manifest
      text.replace('a'.repeat(64), 'not a hash'), // a record out of shape
    ]) {
      await writeFile(path, damaged);
      const again = new ManifestCopy(path, ['a']);
      expect(await again.load('mx1-abc'), damaged.slice(0, 60)).toBeUndefined();
    }
  });
});
