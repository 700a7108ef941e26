// The `ls` cache on disk (list-cache.ts decides what goes in it). Two files in .mailroom/cache/:
//
// - `ls.json`, the snapshot: every entry, `{"version": 4, "id": ..., "rows": [...]}`;
// - `ls.journal.json`, the entries changed since that snapshot: `{"version": 4, "snapshot": <its
//   id>, "rows": [...], "gone": [paths]}`.
//
// A listing that changed a few entries (a task acked since the last `ls`) rewrites only the journal,
// not the 2 MB snapshot of a 10,000-task mailroom; when the journal has grown past an eighth of the
// snapshot, the next change writes a new snapshot instead. Both files are written whole (temp file,
// fsync, rename). A journal that names another snapshot (the crash between a new snapshot and the
// journal's removal, or a writer that lost a race) is ignored. Nothing here can make a listing
// wrong: an entry is used only while its file's stamp still matches (list-cache.ts), so a lost or
// old entry costs one read.
//
// A row is `[rel, size, mtimeMs, ctimeMs, ino, ...]`, then either the fields' values in ROW_FIELDS
// order (null for an absent optional one) or, for a file that is not a task, one object: its problem.

import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Problem } from '../problem.js';
import { newGenerationId } from '../random-hex.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { Layout } from '../store/layout.js';
import type { FileStamp } from '../store/stamp.js';

// 2: ack_timeout, run_timeout and kind; 3: last_by and escalated; 4: one array per file instead of
// an object (the field names were 40% of the file, and parsing it was a sixth of `ls` on 10,000
// tasks), and the journal.
const VERSION = 4;

/** The task fields `ls` shows (the rest of a summary comes from where the file is). */
export interface CachedFields {
  title: string;
  state: string;
  priority: string;
  from: string;
  to: string;
  created: string;
  updated: string;
  attempt: number;
  max_attempts: number;
  ack_timeout: string;
  run_timeout: string;
  /** Who wrote the last history entry: the board's "last sign of life" of an agent. */
  last_by?: string;
  /** `kind: question` marks a question (docs/spec.md §4, `ask`); other kinds are kept as written. */
  kind?: string;
  /** When the task was escalated (the `escalated` field as text); absent when it is not. */
  escalated?: string;
}

/** What the cache knows of one file: its stamp then, and its fields or why it is not a task. */
export interface Entry extends FileStamp {
  fields?: CachedFields;
  problem?: Omit<Problem, 'path'>;
}

/** The cache as loaded: the entries (snapshot + journal), and what the journal holds. */
export interface LoadedCache {
  entries: Map<string, Entry>;
  /** The snapshot's id; none when there is no snapshot to journal against. */
  snapshot?: string;
  /** The journal's entries by path (null: gone). */
  journal: Map<string, Entry | null>;
}

export const cachePath = (layout: Layout): string => join(layout.stateDir, 'cache', 'ls.json');
export const journalPath = (layout: Layout): string => join(layout.stateDir, 'cache', 'ls.journal.json');

const ROW_FIELDS = [
  'title',
  'state',
  'priority',
  'from',
  'to',
  'created',
  'updated',
  'attempt',
  'max_attempts',
  'ack_timeout',
  'run_timeout',
  'last_by',
  'kind',
  'escalated',
] as const satisfies readonly (keyof CachedFields)[];
const STAMP_LENGTH = 5;

function toRow(rel: string, e: Entry): unknown[] {
  const row: unknown[] = [rel, e.size, e.mtimeMs, e.ctimeMs, e.ino];
  if (e.fields) for (const k of ROW_FIELDS) row.push(e.fields[k] ?? null);
  else row.push(e.problem ?? { reason: 'unreadable' });
  return row;
}

/** A row back into its entry (its path is row[0]); undefined for what is not a row this version wrote. */
function entryOf(row: unknown): Entry | undefined {
  if (!Array.isArray(row) || typeof row[0] !== 'string') return undefined;
  // Indexes and literals, no destructuring or spreads: this runs 10,000 times in a process that
  // lives a quarter of a second, mostly in the interpreter, where an array destructuring walks an
  // iterator and a loop adding keys one by one makes a slow dictionary object.
  const r = row as (string | number | null)[];
  if (r.length === STAMP_LENGTH + 1) {
    const problem = r[STAMP_LENGTH] as unknown as Entry['problem'];
    if (typeof problem?.reason !== 'string') return undefined;
    return { size: r[1], mtimeMs: r[2], ctimeMs: r[3], ino: r[4], problem } as Entry;
  }
  if (r.length !== STAMP_LENGTH + ROW_FIELDS.length) return undefined;
  const fields = {
    title: r[5],
    state: r[6],
    priority: r[7],
    from: r[8],
    to: r[9],
    created: r[10],
    updated: r[11],
    attempt: r[12],
    max_attempts: r[13],
    ack_timeout: r[14],
    run_timeout: r[15],
  } as CachedFields;
  if (r[16] !== null) fields.last_by = r[16] as string;
  if (r[17] !== null) fields.kind = r[17] as string;
  if (r[18] !== null) fields.escalated = r[18] as string;
  return { size: r[1], mtimeMs: r[2], ctimeMs: r[3], ino: r[4], fields } as Entry;
}

/** Each row of `rows` that is one, into `into` by its path. */
function addRows(into: Map<string, Entry | null>, rows: unknown): void {
  if (!Array.isArray(rows)) return;
  for (let i = 0; i < rows.length; i++) {
    const entry = entryOf(rows[i]);
    if (entry) into.set(rows[i][0] as string, entry);
  }
}

const fileKey = (path: string): string => {
  const st: Stats | undefined = lstatSync(path, { throwIfNoEntry: false });
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : '-';
};

/**
 * The cache as last loaded by this process, with both files' identities then. A long-running
 * process (`mailroom mcp`) lists again and again: it parses the files again only when one was
 * replaced (every write is a rename, so a new inode). Never mutated: each listing builds a new map.
 */
let parsed: { key: string; cache: LoadedCache } | undefined;

/** The cache as on disk; an empty one when there is none or it cannot be read. */
export function loadCache(layout: Layout): LoadedCache {
  const path = cachePath(layout);
  try {
    const key = `${path}|${fileKey(path)}|${fileKey(journalPath(layout))}`;
    if (parsed?.key === key) return parsed.cache;
    const data = JSON.parse(readFileSync(path, 'utf8')) as {
      version?: unknown;
      id?: unknown;
      rows?: unknown;
    };
    if (data?.version !== VERSION || typeof data.id !== 'string')
      return { entries: new Map(), journal: new Map() };
    const entries = new Map<string, Entry>();
    addRows(entries as Map<string, Entry | null>, data.rows);
    const cache: LoadedCache = { entries, snapshot: data.id, journal: readJournal(layout, data.id) };
    for (const [rel, e] of cache.journal) {
      if (e) entries.set(rel, e);
      else entries.delete(rel);
    }
    parsed = { key, cache };
    return cache;
  } catch {
    // no cache yet, or not one we can read: start afresh
  }
  return { entries: new Map(), journal: new Map() };
}

function readJournal(layout: Layout, snapshot: string): Map<string, Entry | null> {
  const journal = new Map<string, Entry | null>();
  try {
    const data = JSON.parse(readFileSync(journalPath(layout), 'utf8')) as Record<string, unknown>;
    if (data?.version !== VERSION || data.snapshot !== snapshot) return journal;
    addRows(journal, data.rows);
    if (Array.isArray(data.gone))
      for (const rel of data.gone) if (typeof rel === 'string') journal.set(rel, null);
  } catch {
    // none, or not ours: the snapshot alone
  }
  return journal;
}

/** The journal's size past which the next change writes a new snapshot instead. */
const journalLimit = (entries: number) => Math.max(256, Math.floor(entries / 8));

/**
 * Save `next`, the cache after a listing that started from `base`: `added` are the paths whose
 * entries it put in (the others were carried over or dropped). Best effort: a cache that cannot be
 * written (a read-only root) only costs speed.
 */
export async function saveCache(
  layout: Layout,
  base: LoadedCache,
  next: ReadonlyMap<string, Entry>,
  added: readonly string[],
): Promise<void> {
  const gone: string[] = [];
  for (const rel of base.entries.keys()) if (!next.has(rel)) gone.push(rel);
  if (added.length === 0 && gone.length === 0) return;
  const journal = new Map(base.journal);
  for (const rel of added) journal.set(rel, next.get(rel) ?? null);
  for (const rel of gone) journal.set(rel, null);
  try {
    if (base.snapshot !== undefined && journal.size <= journalLimit(next.size)) {
      const rows: unknown[][] = [];
      const removed: string[] = [];
      for (const [rel, e] of journal) {
        if (e) rows.push(toRow(rel, e));
        else removed.push(rel);
      }
      const data = { version: VERSION, snapshot: base.snapshot, rows, gone: removed };
      await writeFileAtomic(journalPath(layout), JSON.stringify(data), { mkdir: true });
      return;
    }
    const id = newGenerationId();
    const rows: unknown[][] = [];
    for (const [rel, e] of next) rows.push(toRow(rel, e));
    await writeFileAtomic(cachePath(layout), JSON.stringify({ version: VERSION, id, rows }), { mkdir: true });
    await rm(journalPath(layout), { force: true }); // names the old snapshot: it would be ignored anyway
  } catch {
    // best effort (above)
  }
}
