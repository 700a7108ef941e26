// A cache of what `mailroom ls` shows for each task file, so that listing 10,000 tasks reads and
// parses only the files that changed since the last listing (docs/performance.md).
//
// The cache (list-cache-file.ts: a snapshot in columns and a journal in .mailroom/cache/) maps a file's path
// (relative to the root) to its (size, mtime, ctime, inode) and either its summary fields or the
// reason it is not a task. An entry is used only when
// all four still match, and only if the read was not racy (src/store/stamp.ts: git's rule, with the
// ctime as well as the mtime). The cache is advisory: it is never a source of truth,
// a missing, old or malformed cache is rebuilt, and deleting it is always safe.

import { lstatSync, type Stats } from 'node:fs';
import { DEFAULT_LIMITS } from '../config/limits.js';
import type { Layout } from '../store/layout.js';
import { readRegularFileSync } from '../store/read-file.js';
import type { LoadedTask, StoreProblem, TaskRef } from '../store/scan.js';
import { cacheable, type FileStamp, RACY_MS, sameStamp, stampOf } from '../store/stamp.js';
import { decodeTaskBytes } from '../task/parse.js';
import { type CachedFields, CacheEdit, type Entry, loadCache, saveCache } from './list-cache-file.js';
import type { ChangeHints, KeptListing } from './list-kept.js';

export type { CachedFields } from './list-cache-file.js';
export { cachePath, journalPath } from './list-cache-file.js';

export function fieldsOf(t: LoadedTask): CachedFields {
  const task = t.parsed.task;
  return {
    title: task.title,
    state: task.state,
    priority: task.priority,
    from: task.from,
    to: task.to,
    created: task.created,
    updated: task.history[task.history.length - 1]?.at ?? task.created,
    attempt: task.attempt,
    max_attempts: task.max_attempts,
    ack_timeout: task.ack_timeout,
    run_timeout: task.run_timeout,
    ...optionalText('last_by', task.history[task.history.length - 1]?.by),
    ...optionalText('kind', task.kind),
    ...(task.escalated ? { escalated: String(task.escalated) } : {}),
  };
}

/** A field only when the task has it as text (hand-written files may hold anything else). */
function optionalText<K extends string>(key: K, value: unknown): Partial<Record<K, string>> {
  return typeof value === 'string' && value !== '' ? ({ [key]: value } as Record<K, string>) : {};
}

/**
 * A long-running reader's copy of the cache (the board): loaded from the file once, then kept in
 * memory, so a listing after every change costs stats, not a parse and an fsync'd rewrite of the
 * whole file. The file is written only by the first listing (it helps the next `ls` and board).
 */
export interface MemoryCache {
  entries?: Map<string, Entry>;
  /**
   * Files this process read or wrote too recently for their stamp to be trusted (the racy rule),
   * by path, with the text as read and what it showed. Such a file is read again by every listing,
   * but parsed again only when its text differs: the same text is the same task. A long-running
   * server that claims (`next`) lists files it has just changed, so without this each listing within
   * 2 s of a claim parsed every file claimed in that window again.
   *
   * A file this process wrote itself carries the stamp it had right after the write, taken under
   * the task's lock: while the file still has exactly that stamp, it is not even read. The racy
   * rule's worry (a second write within the same timestamp granule) is then bounded: the file is
   * read once more when its stamp becomes old enough to cache, so a same-size in-place edit within
   * a few milliseconds of the claim shows at most RACY_MS late.
   */
  recent?: Map<string, Memo>;
  /** Listings since the last sweep of entries for files that are gone (in-place mode). */
  listings?: number;
  /**
   * A watcher's change hints (src/ops/list-kept.ts), given by a lister that keeps one (`mailroom
   * mcp` on Linux), and the listings it may then give again without a stat per file.
   */
  hints?: ChangeHints;
  kept?: Map<string, KeptListing>;
}

interface Memo {
  text: string;
  fields: CachedFields;
  stamp?: FileStamp;
}

/**
 * Tell a memory cache what this process just wrote to `task.path` (a claim, say), so the next
 * listing does not parse it while it still holds that text (nor read it while it has `stamp`).
 */
export function rememberWritten(memory: MemoryCache | undefined, task: LoadedTask, stamp?: FileStamp): void {
  if (!memory) return;
  memory.recent ??= new Map();
  memory.recent.set(task.path, { text: task.text, fields: fieldsOf(task), ...(stamp ? { stamp } : {}) });
}

/** Whether the file holds exactly the text `memo` was made from (a fresh read; any trouble: no). */
function sameText(path: string, memo: { text: string }, maxBytes: number): boolean {
  try {
    const decoded = decodeTaskBytes(readRegularFileSync(path, { maxBytes }));
    return decoded.ok && decoded.text === memo.text;
  } catch {
    return false; // gone, a link, too big: the full read says what it is
  }
}

/** How often (in listings) a long-running reader drops the entries of files that are gone. */
const SWEEP_EVERY = 64;

/**
 * Every SWEEP_EVERY listings, drop in-scope entries of files this listing did not see. Between
 * sweeps such an entry only takes memory: entries are looked up by the paths listed, and a new file
 * at an old path has a new stamp.
 */
function sweepGone(
  memory: MemoryCache,
  layout: Layout,
  refs: readonly TaskRef[],
  inScope: (rel: string) => boolean,
) {
  memory.listings = (memory.listings ?? 0) + 1;
  if (memory.listings % SWEEP_EVERY !== 0 || !memory.entries) return;
  const seen = new Set(refs.map((r) => layout.rel(r.path)));
  for (const rel of memory.entries.keys()) if (inScope(rel) && !seen.has(rel)) memory.entries.delete(rel);
}

export type CachedResult =
  | { ref: TaskRef; fields: CachedFields }
  | { ref: TaskRef; problem: StoreProblem }
  | { ref: TaskRef; missing: true };

type ReadResult =
  | { ok: true; task: LoadedTask }
  | { ok: false; problem: StoreProblem }
  | { ok: false; missing: true };

/** A ref the cache could not answer: its index, its stat (none: gone), when its read began. */
type Miss = { i: number; st?: Stats; readStart: number };

/**
 * Where a listing finds each file's entry and leaves what it learnt: a long-running reader's map,
 * changed in place, or a CacheEdit of the cache as loaded from the file (saved after the listing).
 */
interface Entries {
  old(rel: string): Entry | undefined;
  /** The entry of `rel` still holds. */
  keep(rel: string): void;
  /** The entry of `rel` no longer holds (put may give it a new one). */
  drop(rel: string): void;
  put(rel: string, e: Entry): void;
}

/** A long-running reader's own map, updated in place (copying 10,000 entries per listing was most of its time). */
const inPlace = (map: Map<string, Entry>): Entries => ({
  old: (rel) => map.get(rel),
  keep: () => {},
  drop: (rel) => map.delete(rel),
  put: (rel, e) => map.set(rel, e),
});

/**
 * The same over a CacheEdit: what it did not keep or put (in the listing's scope) is gone. The entry
 * of a file that changed stays until a listing can cache the new one (one too new to trust waits): it
 * never matches a stamp again, and dropping it would cost a write of the cache file for nothing.
 */
const edited = (edit: CacheEdit): Entries => ({
  old: (rel) => edit.old(rel),
  keep: (rel) => edit.keep(rel),
  drop: (rel) => edit.keep(rel),
  put: (rel, e) => edit.put(rel, e),
});

/** One listing: where the entries are, and the summaries found so far. */
interface Listing {
  layout: Layout;
  racyMs: number;
  maxBytes: number;
  memory: MemoryCache | undefined;
  entries: Entries;
  /** The cache file as loaded, and this listing's changes to it (not a memory cache's map). */
  edit: CacheEdit | undefined;
  recent: Map<string, Memo> | undefined;
  nextRecent: Map<string, Memo>;
  out: CachedResult[];
  now: number;
}

/**
 * Summaries for `refs`: from the cache where the file is unchanged, otherwise from `read` (which
 * reads and parses the file). Updates the cache file when anything changed; a cache that cannot be
 * written (read-only root) only costs speed.
 */
export async function cachedSummaries(
  layout: Layout,
  refs: readonly TaskRef[],
  read: (refs: TaskRef[]) => Promise<ReadResult[]>,
  inScope: (rel: string) => boolean,
  racyMs = RACY_MS,
  memory?: MemoryCache,
  maxBytes = DEFAULT_LIMITS.taskFile,
): Promise<CachedResult[]> {
  const l = startListing(layout, refs.length, inScope, racyMs, memory, maxBytes);
  const misses = fromCache(l, refs);
  if (!l.edit && memory) sweepGone(memory, layout, refs, inScope);
  if (misses.length > 0) fromReads(l, refs, misses, await read(misses.map((m) => refs[m.i]!)));
  if (memory) {
    if (l.edit) memory.entries = l.edit.entries();
    memory.recent = l.nextRecent;
  }
  // Saved when entries were added or files are gone, unless too few were added to be worth a write
  // (saveCache).
  if (l.edit) await saveCache(layout, l.edit);
  return l.out;
}

/** The cache as loaded (or kept in memory), and where this listing's changes go. */
function startListing(
  layout: Layout,
  count: number,
  inScope: (rel: string) => boolean,
  racyMs: number,
  memory: MemoryCache | undefined,
  maxBytes: number,
): Listing {
  const kept = memory?.entries;
  // A map loaded from the file is shared with other listings in this process: changes go to an edit.
  const edit = kept === undefined ? new CacheEdit(loadCache(layout), inScope) : undefined;
  const recent = memory?.recent;
  const nextRecent = new Map<string, Memo>();
  if (recent) for (const [path, m] of recent) if (!inScope(layout.rel(path))) nextRecent.set(path, m);
  return {
    layout,
    racyMs,
    maxBytes,
    memory,
    entries: edit ? edited(edit) : inPlace(kept!),
    edit,
    recent,
    nextRecent,
    out: new Array(count),
    now: Date.now(),
  };
}

/** Each ref answered from its unchanged stamp or from a memo of the same text; the rest are misses. */
function fromCache(l: Listing, refs: readonly TaskRef[]): Miss[] {
  const { layout, entries, recent, out } = l;
  const misses: Miss[] = [];
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i]!;
    let st: Stats | undefined;
    try {
      st = lstatSync(ref.path, { throwIfNoEntry: false });
    } catch {
      st = undefined; // not readable as a file now: read() says what it is
    }
    const rel = layout.rel(ref.path);
    // Most files: a snapshot row with the same stamp, its fields made and nothing else.
    const k = st && l.edit ? l.edit.holdingRow(rel, st) : -1;
    if (k >= 0) {
      out[i] = { ref, fields: l.edit!.fieldsAt(k) };
      continue;
    }
    const e = st ? entries.old(rel) : undefined;
    if (st && e && sameStamp(e, st)) {
      entries.keep(rel);
      out[i] = e.fields
        ? { ref, fields: e.fields }
        : { ref, problem: { path: ref.path, ...(e.problem ?? { reason: 'unreadable' }) } };
      continue;
    }
    if (e) entries.drop(rel); // changed: re-entered below if it may be cached
    const memo = st ? recent?.get(ref.path) : undefined;
    if (st && memo?.stamp && sameStamp(memo.stamp, st) && !cacheable(st, l.now, l.racyMs)) {
      // Still exactly as this process wrote it, and too new to cache: what it showed then.
      out[i] = { ref, fields: memo.fields };
      l.nextRecent.set(ref.path, memo);
      continue;
    }
    const readStart = Date.now();
    if (st && memo && sameText(ref.path, memo, l.maxBytes)) {
      // Read again just now (after the stat) and the same text as before: the same fields. Trusted
      // by its stamp from now on once the stamp is old enough; until then it stays a memo.
      out[i] = { ref, fields: memo.fields };
      if (cacheable(st, readStart, l.racyMs)) entries.put(rel, { ...stampOf(st), fields: memo.fields });
      else l.nextRecent.set(ref.path, memo);
      continue;
    }
    misses.push({ i, st, readStart });
  }
  return misses;
}

/** The misses' summaries from `read`, and their entries (or memos) for the next listing. */
function fromReads(l: Listing, refs: readonly TaskRef[], misses: Miss[], results: ReadResult[]): void {
  const { layout, entries, nextRecent, memory, out } = l;
  results.forEach((r, k) => {
    const { i, st, readStart } = misses[k]!;
    const ref = refs[i]!;
    let entry: Entry | undefined;
    if (r.ok) {
      const fields = fieldsOf(r.task);
      out[i] = { ref, fields };
      if (st) entry = { ...stampOf(st), fields };
    } else if ('problem' in r) {
      out[i] = { ref, problem: r.problem };
      const { path: _path, ...problem } = r.problem;
      if (st) entry = { ...stampOf(st), problem };
    } else out[i] = { ref, missing: true };
    // The stat was taken before the read; if the file changed in between, the entry's stat no
    // longer matches and the next listing re-reads it. Racy entries are not kept at all.
    if (entry && st && cacheable(st, readStart, l.racyMs)) entries.put(layout.rel(ref.path), entry);
    else if (memory && r.ok && st)
      nextRecent.set(ref.path, { text: r.task.text, fields: entry?.fields ?? fieldsOf(r.task) });
  });
}
