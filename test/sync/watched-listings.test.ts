// Box listings a watcher vouches for (src/sync/watched-listings.ts): with a real watcher (the
// daemon's, daemon/watch.ts) on real folders, a scan lists again only the boxes the watcher reported
// a change in, and still sees every change: a new task, an edit in place of the same size, a removal,
// a box moved away. Without a watcher, after its error, after a change it missed, or once
// FULL_LOOK_MS has passed, every box is listed again. The same through a far agent that watches.

import { existsSync, writeFileSync } from 'node:fs';
import { appendFile, link, mkdir, mkdtemp, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Watcher, watchPaths } from '../../daemon/watch.js';
import type { Endpoint, EntryStat } from '../../src/endpoint/endpoint.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import { farCacheOf } from '../../src/remote/far-scan.js';
import { type SideScan, scanSide } from '../../src/sync/scan.js';
import { FULL_LOOK_MS, isBoxFolder, WatchedListings } from '../../src/sync/watched-listings.js';
import { pipedAgent } from '../support/agent-pipe.js';
import { queuedTaskFile } from '../support/task-file.js';

const AGENTS = ['a1', 'a2'];
const id = (n: number) => `20261122-101500-${String(n).padStart(4, '0')}`;

let root: string;
let watcher: Watcher | undefined;
let clock: number;
let listings: WatchedListings;
/** Box folders listed through the endpoint, per scan. */
let listed: string[];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailroom-watched-'));
  for (const a of AGENTS)
    for (const box of ['inbox', 'outbox']) await mkdir(join(root, 'agents', a, box), { recursive: true });
  for (let n = 0; n < 6; n++) {
    const path = join(root, 'agents', AGENTS[n % 2]!, 'inbox', `${id(n)}.md`);
    await writeFile(path, queuedTaskFile(id(n), `t${n}`));
    // Written an hour ago: a scan trusts its record of such a file (scan.ts recordHolds) and reads
    // it again only when its size or mtime changes.
    const anHourAgo = new Date(Date.now() - 3_600_000);
    await utimes(path, anHourAgo, anHourAgo);
  }
  clock = 1_000_000;
  listings = new WatchedListings(() => clock);
  listed = [];
});

afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  await rm(root, { recursive: true, force: true });
});

/** The daemon's watcher on agents/, its hints given to `listings` as root-relative paths. */
async function watch(onError?: (err: unknown) => void): Promise<void> {
  const agentsDir = join(root, 'agents');
  watcher = await watchPaths([agentsDir], (p) => listings.hint(`agents/${p.slice(agentsDir.length + 1)}`), {
    ...(onError ? { onError } : {}),
  });
  listings.start();
}

/** The local endpoint, noting every box folder listed through it. */
function counting(): Endpoint {
  const real = localEndpoint(root);
  return Object.assign(Object.create(real) as Endpoint, {
    list: (dir: string) => {
      if (isBoxFolder(dir)) listed.push(dir);
      return real.list(dir);
    },
  });
}

let prev: SideScan['cache'] = {};
async function scan(): Promise<SideScan> {
  listed = [];
  const kept = await listings.round(localEndpoint(root));
  const s = await scanSide(counting(), AGENTS, prev, {
    clockMs: Date.now(),
    ...(kept ? { listings: kept } : {}),
  });
  prev = s.cache;
  return s;
}

const ALL_BOXES = ['agents/a1/inbox', 'agents/a1/outbox', 'agents/a2/inbox', 'agents/a2/outbox'];

describe('a scan with a watcher', () => {
  beforeEach(() => {
    prev = {};
  });

  it('lists no box again, and looks only at the file the watcher reported, and sees the change', async () => {
    await watch();
    expect((await scan()).tasks.size).toBe(6);
    expect(listed.sort()).toEqual(ALL_BOXES); // the first round lists everything
    await writeFile(join(root, 'agents/a2/outbox', `${id(9)}.md`), queuedTaskFile(id(9), 'new'));
    const s = await scan();
    expect(listed).toEqual([]);
    expect(s.tasks.get(id(9))?.path).toBe(`agents/a2/outbox/${id(9)}.md`);
    expect(s.tasks.size).toBe(7); // the boxes not listed again keep their tasks
    const quiet = await scan();
    expect(listed).toEqual([]);
    expect([...quiet.tasks.keys()].sort()).toEqual([...s.tasks.keys()].sort());
    expect(listings.rounds).toEqual({ full: 1, reused: 2 });
  });

  it('sees a write made just before the scan began, whose event was not read yet', async () => {
    await watch();
    await scan();
    // No turn of the event loop between the write and the round: its event is still in the
    // kernel's queue when the scan is asked for (a file the last pass wrote, then the next pass).
    writeFileSync(join(root, 'agents/a1/outbox', `${id(8)}.md`), queuedTaskFile(id(8), 'late'));
    const s = await scan();
    expect(s.tasks.get(id(8))?.loc).toBe('a1/outbox');
  });

  it('sees an edit in place of the same size, a removal and a box moved away', async () => {
    await watch();
    const before = await scan();
    const path = join(root, 'agents/a1/inbox', `${id(0)}.md`);
    await writeFile(path, queuedTaskFile(id(0), 'T0')); // same size, other bytes, same second
    await rm(join(root, 'agents/a2/inbox', `${id(1)}.md`));
    const s = await scan();
    expect(listed).toEqual([]); // each box's listing patched with the names the watcher gave
    expect(s.tasks.get(id(0))?.hash).not.toBe(before.tasks.get(id(0))?.hash);
    expect(s.tasks.has(id(1))).toBe(false);
    await rename(join(root, 'agents/a1/inbox'), join(root, 'agents/a1/elsewhere'));
    const moved = await scan();
    expect(moved.tasks.has(id(0))).toBe(false);
    expect(moved.tasks.has(id(2))).toBe(false);
    expect(moved.tasks.has(id(3))).toBe(true);
    await rename(join(root, 'agents/a1/elsewhere'), join(root, 'agents/a1/inbox'));
    const back = await scan();
    expect(listed).toEqual(['agents/a1/inbox']); // a box the watcher named itself is listed again
    expect(back.tasks.has(id(2))).toBe(true);
  });

  it('lists every box again once FULL_LOOK_MS has passed, after forget(), and after stop()', async () => {
    await watch();
    await scan();
    await scan();
    expect(listed).toEqual([]);
    clock += FULL_LOOK_MS;
    await scan();
    expect(listed.sort()).toEqual(ALL_BOXES);
    await scan();
    expect(listed).toEqual([]);
    listings.forget(); // the daemon's rescan found a change no event announced
    await scan();
    expect(listed.sort()).toEqual(ALL_BOXES);
    listings.stop(); // the watcher failed
    await scan();
    await scan();
    expect(listed.sort()).toEqual(ALL_BOXES);
  });

  it('a change no event announced is seen at the next full look, FULL_LOOK_MS at the latest', async () => {
    await watch();
    const before = await scan();
    // Written through a hard link outside the watched folders: the box's watch hears nothing (what a
    // lost event looks like). The box's listing is reused, with the old size: the old record holds.
    await mkdir(join(root, 'outside'));
    await link(join(root, 'agents/a1/inbox', `${id(0)}.md`), join(root, 'outside/x.md'));
    await appendFile(join(root, 'outside/x.md'), 'more words\n');
    expect((await scan()).tasks.get(id(0))?.hash).toBe(before.tasks.get(id(0))?.hash);
    clock += FULL_LOOK_MS;
    expect((await scan()).tasks.get(id(0))?.hash).not.toBe(before.tasks.get(id(0))?.hash);
  });

  it('a file of the last scan that a vouched listing lacks (its event lost) is looked at by name, not lost', async () => {
    const first = await scan();
    const note = 'agents/a1/inbox/notes.txt';
    await writeFile(join(root, note), 'a plain file, not a task\n');
    const withNote = await scan();
    expect(withNote.files.has(note)).toBe(true);
    // Listings from before the note and the task were written, as a watcher that lost both events
    // would keep them: neither may read as deleted (that would delete them on the other side).
    const stale = new Map<string, readonly EntryStat[]>();
    for (const box of ALL_BOXES) stale.set(box, await localEndpoint(root).list(box));
    stale.set(
      'agents/a1/inbox',
      stale.get('agents/a1/inbox')!.filter((e) => e.name !== 'notes.txt' && e.name !== `${id(2)}.md`),
    );
    listed = [];
    const s = await scanSide(counting(), AGENTS, withNote.cache, {
      clockMs: Date.now(),
      listings: { get: (box) => stale.get(box), set: () => {} },
    });
    expect(listed).toEqual([]);
    expect(s.files.has(note)).toBe(true);
    expect(s.tasks.get(id(2))?.hash).toBe(first.tasks.get(id(2))?.hash);
  });

  it('lists a box again where it reported more names than it looks at one by one', async () => {
    await watch();
    await scan();
    for (let n = 0; n < 300; n++) listings.hint(`agents/a2/outbox/x${n}.md`);
    await scan();
    expect(listed).toEqual(['agents/a2/outbox']);
  });

  it('lists every box again after more hints than it holds', async () => {
    await watch();
    await scan();
    for (let n = 0; n < 5000; n++) listings.hint(`agents/a1/inbox/x${n}.md`);
    await scan();
    expect(listed.sort()).toEqual(ALL_BOXES);
  });

  it('without a watcher, every scan lists every box and keeps nothing', async () => {
    await scan();
    await scan();
    expect(listed.sort()).toEqual(ALL_BOXES);
    expect(listings.rounds).toEqual({ full: 0, reused: 0 });
  });
});

describe('a far agent that watches (a daemon follows it)', () => {
  it('answers every manifest with what its folders hold after each change', async () => {
    const ep = await pipedAgent(root, AGENTS, 'vps', join(root, 'hub-copy.json'), { watch: true });
    try {
      await ep.onChanges(AGENTS, () => {});
      expect((await ep.scan(AGENTS)).tasks.size).toBe(6);
      await writeFile(join(root, 'agents/a2/outbox', `${id(9)}.md`), queuedTaskFile(id(9), 'new'));
      await rm(join(root, 'agents/a2/inbox', `${id(1)}.md`));
      const a = await ep.scan(AGENTS);
      expect(a.tasks.get(id(9))?.loc).toBe('a2/outbox');
      expect(a.tasks.has(id(1))).toBe(false);
      const before = a.tasks.get(id(0))?.hash;
      await writeFile(join(root, 'agents/a1/inbox', `${id(0)}.md`), queuedTaskFile(id(0), 'T0'));
      const b = await ep.scan(AGENTS);
      expect(b.tasks.get(id(0))?.hash).not.toBe(before);
      expect(b.tasks.size).toBe(6);
      // It trusts its watcher: a change no event announced (a write through a hard link outside the
      // watched folders) is not seen by the next manifest, as no box was listed again.
      await mkdir(join(root, 'outside'));
      await link(join(root, 'agents/a1/inbox', `${id(2)}.md`), join(root, 'outside/x.md'));
      await appendFile(join(root, 'outside/x.md'), 'more words\n');
      expect((await ep.scan(AGENTS)).tasks.get(id(2))?.hash).toBe(b.tasks.get(id(2))?.hash);
      // Followed by a daemon, it keeps its state in memory and writes the file (2 MB at 10,000
      // tasks) at most once a minute: not at each of these replies, and when it ends.
      expect(existsSync(join(root, '.mailroom/agent-state.json'))).toBe(false);
    } finally {
      await ep.close();
    }
    const kept = farCacheOf(await readFile(join(root, '.mailroom/agent-state.json'), 'utf8'));
    expect(Object.keys(kept)).toContain(`agents/a2/outbox/${id(9)}.md`);
  });
});
