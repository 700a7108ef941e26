// Listings a long-running lister (`mailroom mcp`) may give again without a stat per file, because a
// watcher of agents/ says nothing they cover has changed since (docs/performance.md, "MCP tool calls").
//
// Why that is safe where it is used (Linux): a watch there is inotify, and the kernel queues a watch
// event inside the write or rename itself, before the writer's call returns. A request that comes
// after a change (the only order a caller can know of) therefore finds that change's event already
// queued. Before it looks, a listing lets the event loop take one turn (setImmediate runs after the
// loop has handled every ready file descriptor), so events already queued are noted first.
//
// Events stay hints all the same: a kept listing is used for at most TRUST_MS, a watcher error or a
// log that overflowed ends the trust, an event this module cannot place ends it for every listing it
// might concern, and each claim is still judged under the task's lock (src/ops/next.ts). Where events
// may come late (macOS FSEvents, polling), no hints are given and every listing checks every file.

import { lstatSync } from 'node:fs';
import type { Problem } from '../problem.js';
import type { Box, Layout } from '../store/layout.js';
import { sameStamp } from '../store/stamp.js';
import type { CachedResult, MemoryCache } from './list-cache.js';

/** How long a kept listing may be given again before every file is checked anew. */
export const TRUST_MS = 1000;
/** Paths the log keeps unread; past that the oldest half is dropped (listings older than it: full). */
const LOG_MAX = 512;

/** The paths a watcher reported, in order, numbered. */
export class ChangeHints {
  private seq = 0;
  /** Paths noted after `base`, oldest first. */
  private paths: string[] = [];
  private base = 0;
  private failed = false;

  /** A watcher event: something at `path` (a file or a folder) may have changed. */
  note(path: string): void {
    this.seq++;
    this.paths.push(path);
    if (this.paths.length > LOG_MAX) {
      this.paths = this.paths.slice(-LOG_MAX / 2);
      this.base = this.seq - this.paths.length;
    }
  }

  /** The watcher failed: events may be missing from now on, so nothing is trusted again. */
  fail(): void {
    this.failed = true;
  }

  get mark(): number {
    return this.seq;
  }

  /** The paths noted after `mark`, or undefined when they are not all known any more. */
  since(mark: number): readonly string[] | undefined {
    if (this.failed || mark < this.base) return undefined;
    return this.paths.slice(mark - this.base);
  }
}

/** A listing as a full check made it, and when: the watcher's mark and the clock at its start. */
export interface KeptListing {
  mark: number;
  at: number;
  results: CachedResult[];
  /** The scan's own problems (folders that are links, say), with absolute paths. */
  problems: Problem[];
}

/** What a listing covers: one agent's boxes, or those boxes of every agent. */
export interface ListingScope {
  agent?: string;
  boxes: readonly Box[];
}

const keyOf = (s: ListingScope) => `${s.agent ?? '*'}|${s.boxes.join(',')}`;

/**
 * The kept listing of `scope` when nothing it covers has changed since (this process's own writes,
 * told through rememberWritten, are shown as written); undefined when it must be listed in full.
 */
export async function keptListing(
  layout: Layout,
  memory: MemoryCache | undefined,
  scope: ListingScope,
  now: () => number = Date.now,
): Promise<KeptListing | undefined> {
  const hints = memory?.hints;
  if (!memory || !hints) return undefined;
  await new Promise<void>((r) => setImmediate(r)); // not node:timers/promises: 6 ms to load, for `ls`
  const kept = memory.kept?.get(keyOf(scope));
  if (!kept || now() - kept.at >= TRUST_MS) return undefined;
  const paths = hints.since(kept.mark);
  if (!paths || paths.some((p) => touches(layout, memory, scope, p))) return undefined;
  const results = kept.results.map((r) => {
    const memo = 'fields' in r ? memory.recent?.get(r.ref.path) : undefined;
    return memo?.stamp ? { ref: r.ref, fields: memo.fields } : r;
  });
  return { ...kept, results };
}

/** Where a full listing starts: keep it afterwards with keepListing. */
export function listingMark(memory: MemoryCache | undefined): { mark: number; at: number } | undefined {
  return memory?.hints ? { mark: memory.hints.mark, at: Date.now() } : undefined;
}

export function keepListing(
  memory: MemoryCache | undefined,
  scope: ListingScope,
  start: { mark: number; at: number } | undefined,
  results: CachedResult[],
  problems: Problem[],
): void {
  if (!memory || !start) return;
  memory.kept ??= new Map();
  memory.kept.set(keyOf(scope), { ...start, results, problems });
}

/**
 * Whether a change at `path` may change a listing of `scope`. A task file of the scope counts unless
 * it still has the stamp this process left on it (its own claim); anything else the scope might hold
 * (a box, an agent's folder, the agents folder) counts; other agents' and other boxes' files do not.
 */
function touches(layout: Layout, memory: MemoryCache, scope: ListingScope, path: string): boolean {
  const rel = layout.rel(path).split('/');
  if (rel[0] !== 'agents' || rel.length < 2) return true;
  if (scope.agent !== undefined && rel[1] !== scope.agent) return false;
  if (rel.length === 2) return true;
  if (!(scope.boxes as readonly string[]).includes(rel[2]!)) return false;
  if (rel.length !== 4) return true;
  const memo = memory.recent?.get(path);
  if (!memo?.stamp) return true;
  try {
    const st = lstatSync(path, { throwIfNoEntry: false });
    return !st || !sameStamp(memo.stamp, st);
  } catch {
    return true;
  }
}
