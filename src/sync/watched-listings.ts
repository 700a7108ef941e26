// Box listings a watcher vouches for. A full pass looks at every file of the host's agents' folders
// on both sides (10,000 `lstat`s a side at 10,000 tasks: most of a daemon's pass on a kept
// connection). Where a watcher runs beside the scans (the daemon's on this machine, the far agent's
// once the daemon follows it), a box folder it reported nothing in since it was last listed is
// taken as listed then; in a box it reported changes in, only the names it reported are looked at
// again (an `lstat` each), and a box or folder above it that was itself reported is listed again, as
// Mutagen's accelerated scan does. docs/sync.md, "Listings the watcher vouches for".
//
// A box's own entries are all that is kept: an agent's folder and every `<id>.files/` tree are listed
// at each scan (the watcher watches down to the boxes only). What the watcher may miss (an event
// queue that overflowed, a write through a hard link from elsewhere) costs latency, never a deletion:
// at least every FULL_LOOK_MS a scan lists everything again, a change the daemon's rescan found
// unannounced makes the next scan a full one, a watcher error ends the trust (stop), and a file of
// the side's last scan that a kept listing lacks is looked at by name (scan.ts, findUnlisted).
//
// Order: a hint is taken in the watcher's event callback, synchronously. A round begins only after
// two turns of the event loop, so the events of every write made before it (by anyone, this process
// too: a file the last pass wrote) have been read from the kernel's queue and marked their folder.

import type { Endpoint, EntryStat } from '../endpoint/endpoint.js';
import { isBox } from '../store/layout.js';

/** How long the watcher's silence is trusted: a scan at least this often lists every folder. */
export const FULL_LOOK_MS = 5 * 60_000;
/** Hints held between two scans; past this many, the next scan lists everything. */
const MAX_DIRTY = 4096;
/** Names looked at again in one box; past this many, the box is listed again instead. */
const MAX_NAMES_PER_BOX = 256;

/** The listings one scan may reuse, and where it keeps what it lists (scan.ts, ScanOptions.listings). */
export interface KeptListings {
  /** The entries of a box folder (`agents/<agent>/<box>`) as last listed, if the watcher vouches for them. */
  get(box: string): readonly EntryStat[] | undefined;
  /** A box folder as this scan listed it. */
  set(box: string, entries: readonly EntryStat[]): void;
}

/** Is `rel` a box folder, `agents/<agent>/<box>`? Only those are kept. */
export function isBoxFolder(rel: string): boolean {
  if (!rel.startsWith('agents/')) return false;
  const slash = rel.indexOf('/', 7);
  return slash > 7 && rel.indexOf('/', slash + 1) < 0 && isBox(rel.slice(slash + 1));
}

const parentOf = (rel: string): string => {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
};

export const twoTurns = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

export class WatchedListings {
  private watching = false;
  private lastFullAt = Number.NEGATIVE_INFINITY;
  /** Paths hinted since the last round began (relative to the root). */
  private dirty = new Set<string>();
  private overflowed = false;
  private readonly kept = new Map<string, readonly EntryStat[]>();
  /** Bumped whenever kept listings are dropped: a round begun before that keeps nothing. */
  private epoch = 0;
  /** Rounds so far that listed everything, and that reused something (for tests and diagnostics). */
  readonly rounds = { full: 0, reused: 0 };
  /** Bumped by every hint and every change of trust: see `changes`. */
  private count = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * A count that moves with every hint and every change of trust: a scan begun at one count still
   * describes the folders while the count has not moved (far-scan.ts, scanning ahead).
   */
  get changes(): number {
    return this.count;
  }

  /** Its silence is trusted now: watching, nothing overflowed, everything listed within FULL_LOOK_MS. */
  get trusted(): boolean {
    return this.watching && !this.overflowed && this.now() - this.lastFullAt < FULL_LOOK_MS;
  }

  get isWatching(): boolean {
    return this.watching;
  }

  /** The watcher is ready: from now on, its silence about a box means the box is as last listed. */
  start(): void {
    this.forget();
    this.watching = true;
  }

  /** The watcher failed, stopped, or missed a change: nothing is reused until it is started again. */
  stop(): void {
    this.count++;
    this.watching = false;
    this.forget();
  }

  /** Something at `rel` (relative to the root; a file or a folder) may have changed. */
  hint(rel: string): void {
    this.count++;
    if (this.overflowed || !this.watching) return;
    this.dirty.add(rel);
    if (this.dirty.size > MAX_DIRTY) {
      this.overflowed = true;
      this.dirty.clear();
    }
  }

  /**
   * Begins one scan's round on `ep` (the side the listings are of): the listings it may reuse, or
   * undefined (no watcher: list everything, keep nothing). A kept box is dropped when it or a folder
   * above it was hinted; the names hinted in a kept box are looked at again, and its listing patched.
   */
  async round(ep: Pick<Endpoint, 'stat'>): Promise<KeptListings | undefined> {
    if (!this.watching) return undefined;
    await twoTurns();
    if (!this.watching) return undefined;
    if (!this.trusted) {
      this.forget();
      this.lastFullAt = this.now();
    }
    const epoch = this.epoch;
    const dirty = this.dirty;
    this.dirty = new Set();
    const names = new Map<string, Set<string>>();
    for (const rel of dirty) {
      const parent = parentOf(rel);
      if (this.kept.has(parent)) {
        const inBox = names.get(parent) ?? new Set<string>();
        names.set(parent, inBox.add(rel.slice(parent.length + 1)));
        continue;
      }
      const under = `${rel}/`;
      for (const box of this.kept.keys()) if (box === rel || box.startsWith(under)) this.kept.delete(box);
    }
    await Promise.all([...names].map(([box, hinted]) => this.patch(ep, box, hinted, epoch)));
    if (this.kept.size === 0) this.rounds.full++;
    else this.rounds.reused++;
    return {
      get: (box) => this.kept.get(box),
      set: (box, entries) => {
        if (this.epoch === epoch && this.watching && isBoxFolder(box)) this.kept.set(box, entries);
      },
    };
  }

  /** `box`'s kept listing with each of `hinted` looked at again (or dropped: listed again). */
  private async patch(
    ep: Pick<Endpoint, 'stat'>,
    box: string,
    hinted: ReadonlySet<string>,
    epoch: number,
  ): Promise<void> {
    const entries = this.kept.get(box);
    if (entries === undefined || hinted.size > MAX_NAMES_PER_BOX) {
      this.kept.delete(box);
      return;
    }
    let now: (EntryStat | undefined)[];
    try {
      now = await Promise.all([...hinted].map((name) => ep.stat(`${box}/${name}`)));
    } catch {
      this.kept.delete(box); // a folder on the way is not one any more: the listing tells
      return;
    }
    if (this.epoch !== epoch || this.kept.get(box) !== entries) return;
    const patched = entries.filter((e) => !hinted.has(e.name));
    for (const e of now) if (e !== undefined) patched.push(e);
    this.kept.set(box, patched);
  }

  /** The next scan lists every folder (a change was found that no hint announced). */
  forget(): void {
    this.count++;
    this.kept.clear();
    this.dirty.clear();
    this.overflowed = false;
    this.epoch++;
  }
}
