// A box listing a watcher vouches for is the same array pass after pass, and the scan keeps what it
// made of it (scan.ts: boxFound, scannedTask) instead of making it again. What it keeps must never
// stand for a file whose content changed, nor for another box. Real files, the local endpoint.

import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { EntryStat } from '../../src/endpoint/endpoint.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import { scanSide } from '../../src/sync/scan.js';
import type { KeptListings } from '../../src/sync/watched-listings.js';
import { queuedTaskFile } from '../support/task-file.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailroom-scan-kept-'));
  await mkdir(join(root, 'agents/w/inbox'), { recursive: true });
  await mkdir(join(root, 'agents/w/outbox'), { recursive: true });
});
afterEach(() => rm(root, { recursive: true, force: true }));

const ID = '20260101-000000-0001';
const ep = () => localEndpoint(root);

/** Listings kept as they were first listed: the same array for a box at every scan. */
function keptListings(): KeptListings & { boxes: Map<string, readonly EntryStat[]> } {
  const boxes = new Map<string, readonly EntryStat[]>();
  return { boxes, get: (box) => boxes.get(box), set: (box, entries) => boxes.set(box, entries) };
}

it('a kept listing scanned again gives the same tasks; a file read again with new content gives its new hash', async () => {
  const file = join(root, `agents/w/inbox/${ID}.md`);
  await writeFile(file, queuedTaskFile(ID, 'first'));
  const hourAgo = new Date(Date.now() - 3_600_000);
  await utimes(file, hourAgo, hourAgo); // settled: a cached record of it holds
  const listings = keptListings();
  const first = await scanSide(ep(), ['w'], {}, { clockMs: Date.now(), listings });
  const again = await scanSide(ep(), ['w'], first.cache, { clockMs: Date.now(), listings });
  expect(again.reads).toBe(0);
  expect(again.tasks.get(ID)).toBe(first.tasks.get(ID)); // kept, not made again

  // Same size and mtime, other content: only a scan without the cache reads it, and its task must
  // carry the new hash though the listing (and its entry) is the one kept.
  const before = await stat(file);
  await writeFile(file, queuedTaskFile(ID, 'other'));
  await utimes(file, before.atime, before.mtime);
  expect((await stat(file)).size).toBe(before.size);
  const reread = await scanSide(ep(), ['w'], {}, { clockMs: Date.now(), listings });
  expect(reread.reads).toBe(1);
  expect(reread.tasks.get(ID)?.hash).not.toBe(first.tasks.get(ID)?.hash);
  expect(reread.tasks.get(ID)?.hash).toBe(reread.cache[`agents/w/inbox/${ID}.md`]?.hash);
});

it('one listing array given for two boxes is taken as what it lists in each', async () => {
  await writeFile(join(root, `agents/w/inbox/${ID}.md`), queuedTaskFile(ID, 'in the inbox'));
  const listings = keptListings();
  await scanSide(ep(), ['w'], {}, { clockMs: Date.now(), listings });
  // The inbox's array handed out for the outbox too (a listing is keyed by its box, never by itself).
  const inbox = listings.boxes.get('agents/w/inbox')!;
  listings.boxes.set('agents/w/outbox', inbox);
  const scan = await scanSide(ep(), ['w'], {}, { clockMs: Date.now(), listings });
  // Looked for in the outbox (where it is not: reported), never taken for the inbox's file twice.
  expect(scan.problems.map((p) => p.path)).toEqual([`agents/w/outbox/${ID}.md`]);
  expect(scan.tasks.get(ID)?.path).toBe(`agents/w/inbox/${ID}.md`);
});
