// The `ls` cache on disk (list-cache.ts decides what goes in it). Two files in .mailroom/cache/:
//
// - `ls.json`, the snapshot: every entry, in columns: `{"version": 5, "id": ..., "rel": [paths],
//   "stamp": [size, mtimeMs, ctimeMs, ino of each path in turn], "cols": [one array per field in
//   ROW_FIELDS order, null where an entry has no such field], "problems": {"<row>": problem}}`;
// - `ls.journal.json`, the entries changed since that snapshot: `{"version": 5, "snapshot": <its
//   id>, "rows": [...], "gone": [paths]}`, a row being `[rel, size, mtimeMs, ctimeMs, ino, ...]`
//   then either the fields' values in ROW_FIELDS order or one object, its problem.
//
// Columns, because `ls` on 10,000 tasks loads the whole snapshot in a process that lives a quarter
// of a second: one array of numbers holds every stamp unboxed, and no object is made per entry until
// a listing asks for that entry (docs/performance.md, "ls: a snapshot in columns").
//
// A listing that changed a few entries (a task acked since the last `ls`) rewrites only the journal,
// not the 2 MB snapshot of a 10,000-task mailroom; when the journal has grown past an eighth of the
// snapshot, the next change writes a new snapshot instead. Both files are written whole (temp file,
// fsync, rename). A journal that names another snapshot (the crash between a new snapshot and the
// journal's removal, or a writer that lost a race) is ignored. Nothing here can make a listing
// wrong: an entry is used only while its file's stamp still matches (list-cache.ts), so a lost or
// old entry costs one read.

import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Problem } from '../problem.js';
import { newGenerationId } from '../random-hex.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { Layout } from '../store/layout.js';
import type { FileStamp } from '../store/stamp.js';

// 2: ack_timeout, run_timeout and kind; 3: last_by and escalated; 4: one array per file instead of
// an object (the field names were 40% of the file), and the journal; 5: the snapshot in columns.
const VERSION = 5;

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
/** A journal row's path and stamp, before its fields: `[rel, size, mtimeMs, ctimeMs, ino, ...]`. */
const ROW_HEAD = 5;
/** A stamp's numbers in the snapshot's `stamp` column: size, mtimeMs, ctimeMs, ino. */
const STAMP = 4;

function toRow(rel: string, e: Entry): unknown[] {
  const row: unknown[] = [rel, e.size, e.mtimeMs, e.ctimeMs, e.ino];
  if (e.fields) for (const k of ROW_FIELDS) row.push(e.fields[k] ?? null);
  else row.push(e.problem ?? { reason: 'unreadable' });
  return row;
}

/** Entry `k`'s fields from columns in ROW_FIELDS order (optional ones only when set). */
function fieldsAt(c: readonly (readonly unknown[])[], k: number): CachedFields {
  // Literals and indexes, no loop adding keys one by one: this runs for every entry a listing uses,
  // in a process that lives a quarter of a second, mostly in the interpreter (where a loop makes a
  // slow dictionary object, and a closure per field or a destructuring costs a call each).
  const fields = {
    title: c[0]![k],
    state: c[1]![k],
    priority: c[2]![k],
    from: c[3]![k],
    to: c[4]![k],
    created: c[5]![k],
    updated: c[6]![k],
    attempt: c[7]![k],
    max_attempts: c[8]![k],
    ack_timeout: c[9]![k],
    run_timeout: c[10]![k],
  } as CachedFields;
  if (c[11]![k] !== null) fields.last_by = c[11]![k] as string;
  if (c[12]![k] !== null) fields.kind = c[12]![k] as string;
  if (c[13]![k] !== null) fields.escalated = c[13]![k] as string;
  return fields;
}

/** A journal row back into its entry (its path is row[0]); undefined for what is not a row this version wrote. */
function entryOf(row: unknown): Entry | undefined {
  if (!Array.isArray(row) || typeof row[0] !== 'string') return undefined;
  const r = row as (string | number | null)[];
  if (r.length === ROW_HEAD + 1) {
    const problem = r[ROW_HEAD] as unknown as Entry['problem'];
    if (typeof problem?.reason !== 'string') return undefined;
    return { size: r[1], mtimeMs: r[2], ctimeMs: r[3], ino: r[4], problem } as Entry;
  }
  if (r.length !== ROW_HEAD + ROW_FIELDS.length) return undefined;
  // As one-entry columns: a journal holds few rows.
  const fields = fieldsAt(
    ROW_FIELDS.map((_, i) => [r[ROW_HEAD + i]]),
    0,
  );
  return { size: r[1], mtimeMs: r[2], ctimeMs: r[3], ino: r[4], fields } as Entry;
}

/** The snapshot as parsed: each column checked for its length once, at load. */
interface Columns {
  rel: string[];
  /** size, mtimeMs, ctimeMs, ino of each path in turn. */
  stamp: number[];
  /** One array per field of ROW_FIELDS; a problem entry has null in each. */
  cols: unknown[][];
  problems: Record<string, unknown>;
}

function columnsOf(data: Record<string, unknown>): Columns | undefined {
  const { rel, stamp, cols, problems } = data;
  if (!Array.isArray(rel) || !Array.isArray(stamp) || !Array.isArray(cols)) return undefined;
  const n = rel.length;
  if (stamp.length !== n * STAMP || cols.length !== ROW_FIELDS.length) return undefined;
  if (!cols.every((c) => Array.isArray(c) && c.length === n)) return undefined;
  if (typeof problems !== 'object' || problems === null || Array.isArray(problems)) return undefined;
  return { rel, stamp, cols, problems: problems as Record<string, unknown> };
}

/**
 * The cache as loaded: the snapshot (in columns) and the journal over it. An entry becomes an object
 * only when it is asked for (get). Never changed once made: a listing's changes go to a CacheEdit.
 */
export class LoadedCache {
  /** Each snapshot path's row. */
  private readonly rows = new Map<string, number>();
  /** How many paths it holds (snapshot and journal together). */
  readonly size: number;

  constructor(
    /** The snapshot's id; none when there is no snapshot to journal against. */
    readonly snapshot?: string,
    private readonly c?: Columns,
    /** The journal's entries by path (null: gone). */
    readonly journal: ReadonlyMap<string, Entry | null> = new Map(),
  ) {
    const rel = c?.rel ?? [];
    for (let k = 0; k < rel.length; k++) this.rows.set(rel[k]!, k);
    let size = this.rows.size;
    for (const [path, e] of journal) {
      const inSnapshot = this.rows.has(path);
      if (e && !inSnapshot) size++;
      else if (!e && inSnapshot) size--;
    }
    this.size = size;
  }

  /**
   * The snapshot row of `path` when it holds a task's fields with exactly `st`'s stamp (and the
   * journal says nothing of it), else -1. No object is made: most of a listing's files are answered
   * here, and its fields made only then (fieldsAt).
   */
  holding(path: string, st: FileStamp): number {
    const k = this.rows.get(path);
    if (k === undefined || (this.journal.size > 0 && this.journal.has(path))) return -1;
    const { stamp, cols } = this.c!;
    const b = k * STAMP;
    const same =
      stamp[b] === st.size &&
      stamp[b + 1] === st.mtimeMs &&
      stamp[b + 2] === st.ctimeMs &&
      stamp[b + 3] === st.ino;
    return same && cols[1]![k] !== null ? k : -1;
  }

  /** The fields of snapshot row `k` (one that holding gave). */
  fieldsAt(k: number): CachedFields {
    return fieldsAt(this.c!.cols, k);
  }

  /** The snapshot row of `path`, if it has one (whatever the journal says of it). */
  rowOf(path: string): number | undefined {
    return this.rows.get(path);
  }

  /** How many rows the snapshot has. */
  get rowCount(): number {
    return this.rows.size;
  }

  /** The entry for `path`, or undefined. */
  get(path: string): Entry | undefined {
    const j = this.journal.get(path);
    if (j !== undefined) return j ?? undefined;
    const k = this.rows.get(path);
    return k === undefined ? undefined : this.entryAt(k);
  }

  private entryAt(k: number): Entry | undefined {
    const { stamp, cols, problems } = this.c!;
    const b = k * STAMP;
    const size = stamp[b]!;
    const mtimeMs = stamp[b + 1]!;
    const ctimeMs = stamp[b + 2]!;
    const ino = stamp[b + 3]!;
    // A task's entry has its state; one without (null) is a file that is not a task: its problem.
    if (cols[1]![k] !== null) return { size, mtimeMs, ctimeMs, ino, fields: fieldsAt(cols, k) };
    const problem = Object.hasOwn(problems, k) ? (problems[k] as Entry['problem']) : undefined;
    return typeof problem?.reason === 'string' ? { size, mtimeMs, ctimeMs, ino, problem } : undefined;
  }

  /** Every path it holds. */
  *paths(): Generator<string> {
    for (const path of this.rows.keys()) if (!this.journal.has(path)) yield path;
    for (const [path, e] of this.journal) if (e) yield path;
  }
}

/**
 * One listing's changes to a loaded cache: the entries it found still holding (kept), and the ones it
 * put in (read, or trusted again). Entries the listing speaks for (`inScope`) that it neither kept nor
 * put are gone; the others stay as they are.
 */
export class CacheEdit {
  /** Snapshot rows kept by holdingRow (no path string held per row), and other paths kept. */
  private readonly keptRows: Uint8Array;
  private keptRowCount = 0;
  private readonly kept = new Set<string>();
  readonly added = new Map<string, Entry>();

  constructor(
    readonly base: LoadedCache,
    private readonly inScope: (rel: string) => boolean,
  ) {
    this.keptRows = new Uint8Array(base.rowCount);
  }

  /** LoadedCache.holding, the row kept when it holds. */
  holdingRow(rel: string, st: FileStamp): number {
    const k = this.base.holding(rel, st);
    if (k >= 0 && this.keptRows[k] === 0) {
      this.keptRows[k] = 1;
      this.keptRowCount++;
    }
    return k;
  }

  fieldsAt(k: number): CachedFields {
    return this.base.fieldsAt(k);
  }

  /** The entry the listing starts from for `rel`. */
  old(rel: string): Entry | undefined {
    return this.base.get(rel);
  }

  keep(rel: string): void {
    this.kept.add(rel);
  }

  put(rel: string, e: Entry): void {
    this.added.set(rel, e);
  }

  /** The paths whose entries the listing dropped. */
  gone(): string[] {
    // Every path kept (a listing of everything, nothing changed): none gone, no look at each path.
    if (this.keptRowCount + this.kept.size === this.base.size) return [];
    const gone: string[] = [];
    for (const rel of this.base.paths())
      if (!this.isKept(rel) && !this.added.has(rel) && this.inScope(rel)) gone.push(rel);
    return gone;
  }

  private isKept(rel: string): boolean {
    if (this.kept.has(rel)) return true;
    const k = this.base.rowOf(rel);
    return k !== undefined && this.keptRows[k] === 1;
  }

  /** The cache after the listing, every entry an object (a long-running reader keeps it in memory). */
  entries(gone: readonly string[] = this.gone()): Map<string, Entry> {
    const out = new Map<string, Entry>();
    const dropped = new Set(gone);
    for (const rel of this.base.paths()) {
      const e = this.added.get(rel) ?? (dropped.has(rel) ? undefined : this.base.get(rel));
      if (e) out.set(rel, e);
    }
    for (const [rel, e] of this.added) out.set(rel, e);
    return out;
  }
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
 * replaced (every write is a rename, so a new inode). Never mutated (LoadedCache).
 */
let parsed: { key: string; cache: LoadedCache } | undefined;

/** The cache as on disk; an empty one when there is none or it cannot be read. */
export function loadCache(layout: Layout): LoadedCache {
  const path = cachePath(layout);
  try {
    const key = `${path}|${fileKey(path)}|${fileKey(journalPath(layout))}`;
    if (parsed?.key === key) return parsed.cache;
    const data = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const columns = data?.version === VERSION ? columnsOf(data) : undefined;
    if (!columns || typeof data.id !== 'string') return new LoadedCache();
    const cache = new LoadedCache(data.id, columns, readJournal(layout, data.id));
    parsed = { key, cache };
    return cache;
  } catch {
    // no cache yet, or not one we can read: start afresh
  }
  return new LoadedCache();
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

/** `entries` as the snapshot file's columns. */
function snapshotText(id: string, entries: ReadonlyMap<string, Entry>): string {
  const rel: string[] = [];
  const stamp: number[] = [];
  const cols: unknown[][] = ROW_FIELDS.map(() => []);
  const problems: Record<string, unknown> = {};
  for (const [path, e] of entries) {
    const k = rel.length;
    rel.push(path);
    stamp.push(e.size, e.mtimeMs, e.ctimeMs, e.ino);
    for (let i = 0; i < ROW_FIELDS.length; i++) cols[i]!.push(e.fields?.[ROW_FIELDS[i]!] ?? null);
    if (!e.fields) problems[k] = e.problem ?? { reason: 'unreadable' };
  }
  return JSON.stringify({ version: VERSION, id, rel, stamp, cols, problems });
}

/**
 * How many new entries, with no file gone, are not worth a write of the cache for a cache of `size`
 * entries: up to 16, 1% of it. Each write is a file written and fsync'd (~9 ms here, a third of what
 * the listing of 10,000 tasks costs), while reading a task file again costs ~0.3 ms; a mailroom whose
 * agents change a task between two listings would otherwise pay a write with every `ls`. Those files
 * are read again by the listings after, until enough have gathered.
 */
export const unsavedAdds = (size: number): number => Math.min(16, Math.floor(size / 100));

/**
 * Save what `edit` changed, when it is worth a write (unsavedAdds). Best effort: a cache that cannot
 * be written (a read-only root) only costs speed.
 */
export async function saveCache(layout: Layout, edit: CacheEdit): Promise<void> {
  const gone = edit.gone();
  if (gone.length === 0 && edit.added.size <= unsavedAdds(edit.base.size)) return;
  const base = edit.base;
  const journal = new Map(base.journal);
  for (const [rel, e] of edit.added) journal.set(rel, e);
  for (const rel of gone) journal.set(rel, null);
  try {
    const size = base.size + edit.added.size - gone.length; // an upper bound: an added path may be an old one
    if (base.snapshot !== undefined && journal.size <= journalLimit(size)) {
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
    const text = snapshotText(newGenerationId(), edit.entries(gone));
    await writeFileAtomic(cachePath(layout), text, { mkdir: true });
    await rm(journalPath(layout), { force: true }); // names the old snapshot: it would be ignored anyway
  } catch {
    // best effort (above)
  }
}
