// The sync state kept per host under .mailroom/sync/ (machine-local, never synced): the base (the
// common ancestor) of the three-way reconcile (what both sides held after the last successful sync,
// with the base version's fields for field-level merges) and each side's scan cache. A missing or unreadable state
// means "no base", which makes the next pass conservative (nothing is deleted, differences are merged).
//
// On disk, so that a pass pays for what changed and not for the whole state (9 MB at 10,000 tasks):
//   <host>.json           the status (last sync, last error) and the commit point: which snapshot,
//                         and how many bytes of its journal, make up the state;
//   <host>~<gen>.json     a full snapshot of the records, the base's merge fields left out;
//   <host>~<gen>.fields.json  those fields (id -> MergeFields), read only when a merge needs them;
//   <host>~<gen>.journal  records changed since that snapshot, one JSON line per save.
// A save appends the changed records to the journal and fsyncs it, then replaces <host>.json
// atomically (temp, fsync, rename) with the new journal length: until that rename the old state
// stands, whole, and journal bytes past the committed length are ignored (and overwritten by the next
// save). When the journal grows past a quarter of the snapshot, a save writes a new snapshot instead.
// A version 1 file (the whole state in <host>.json) is read as before and migrated by the next save.
// The base's merge fields are 40% of the snapshot and only a merge reads them: a base record whose
// fields are in its snapshot's fields file says so with `base: 0` (FIELDS_APART), which the journal
// keeps as it is (a journal belongs to one snapshot); baseFields reads the file once, when asked.
// A new snapshot moves every record's fields into its own fields file, written before the snapshot.
// Records are diffed against what was last saved: first by identity, then by their fields (a record's
// nested `base` object by identity). What was saved is held as references, not copies (copying
// 40,000 records cost a one-shot pass ~50 ms of CPU at each load and save), so code must replace a
// record, never edit one in place: scans make a new record for a file that changed and keep the old
// object for one that did not; apply and transition.ts make new ones. test/sync/engine.test.ts runs
// passes on frozen records to hold every writer to that.

import { lstatSync } from 'node:fs';
import { open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mailroom } from '../mailroom.js';
import { checkHostName } from '../names.js';
import { newGenerationId } from '../random-hex.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { MergeFields } from './merge-task.js';
import type { SideCache } from './scan.js';

/** A base record's fields are in its snapshot's fields file: read them with baseFields. */
export const FIELDS_APART = 0;

/** The base's record of one task: where and what both sides held after the last sync. */
export interface BaseTask {
  loc: string;
  hash: string;
  rank: number;
  /**
   * The base version's frontmatter fields and body hash, for field-level merges (baseFields), or
   * FIELDS_APART when they are in the snapshot's fields file. Absent: not known (apply reads them).
   */
  base?: MergeFields | typeof FIELDS_APART;
}

export interface SyncState {
  version: 1;
  host: string;
  lastSyncAt?: string;
  lastAttemptAt?: string;
  lastError?: string;
  lastDurationMs?: number;
  /** How the last pass reached the host: `far agent`, or `SFTP` with why it fell back. */
  lastTransport?: string;
  /** null: no base (never synced, or the state was lost). */
  base: { tasks: Record<string, BaseTask>; files: Record<string, { hash: string }> } | null;
  local: SideCache;
  remote: SideCache;
}

export const syncDir = (mr: Mailroom): string => join(mr.layout.stateDir, 'sync');

/** The hub's copy of the far agent's last manifest for `host` (src/remote/manifest-copy.ts). */
export const manifestCopyPath = (mr: Mailroom, host: string): string =>
  join(syncDir(mr), `${checkHostName(host)}.far-manifest.json`);
/** The hub's note of a far agent that stays for `host` (src/remote/kept-agent.ts). */
export const keptAgentPath = (mr: Mailroom, host: string): string =>
  join(syncDir(mr), `${checkHostName(host)}.far-agent.json`);
export const syncStatePath = (mr: Mailroom, host: string): string =>
  join(syncDir(mr), `${checkHostName(host)}.json`);

/** Whether a pass with `host` ever saved its state here (one lstat: asked before anything is loaded). */
export function hasSyncState(mr: Mailroom, host: string): boolean {
  try {
    return lstatSync(syncStatePath(mr, host), { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true; // not for this question to report: loading the state says what is wrong
  }
}

export function emptyState(host: string): SyncState {
  return { version: 1, host, base: null, local: {}, remote: {} };
}

/** The status fields, kept in <host>.json itself. */
const STATUS_KEYS = ['lastSyncAt', 'lastAttemptAt', 'lastError', 'lastDurationMs', 'lastTransport'] as const;

interface StatusFile {
  version: 2;
  host: string;
  /** The snapshot generation, and the committed length of its journal. */
  snapshot: string;
  journalBytes: number;
  lastSyncAt?: string;
  lastAttemptAt?: string;
  lastError?: string;
  lastDurationMs?: number;
  lastTransport?: string;
}

interface Records {
  base: SyncState['base'];
  local: SideCache;
  remote: SideCache;
}

/** Tables of records, as the journal names them. */
type Table = 'task' | 'file' | 'local' | 'remote';
type Change = [Table, string, object | null];

const tablesOf = (r: Records): [Table, Record<string, object>][] => [
  ['task', r.base?.tasks ?? {}],
  ['file', r.base?.files ?? {}],
  ['local', r.local],
  ['remote', r.remote],
];

/** What was last loaded or saved for a state object: the commit point and its records as saved. */
interface Persisted {
  snapshot: string;
  snapshotBytes: number;
  journalBytes: number;
  hasBase: boolean;
  copies: Record<Table, Map<string, object>>;
  /** A save failed or the journal did not read back: the next save writes a new snapshot. */
  compact: boolean;
  /** The snapshot's fields file, and its records once read (baseFields). */
  fieldsPath: string;
  fields?: Promise<Record<string, MergeFields>>;
}
const persisted = new WeakMap<SyncState, Persisted>();
/** Per status file, the state this process last committed there. */
const lastSaved = new Map<string, { state: SyncState }>();

const snapshotPath = (dir: string, host: string, gen: string) => join(dir, `${host}~${gen}.json`);
const journalPath = (dir: string, host: string, gen: string) => join(dir, `${host}~${gen}.journal`);
const fieldsPath = (dir: string, host: string, gen: string) => join(dir, `${host}~${gen}.fields.json`);

/** The records as saved, by reference (records are replaced, never edited: see the header). */
function copiesOf(r: Records): Record<Table, Map<string, object>> {
  const out = {} as Record<Table, Map<string, object>>;
  for (const [table, records] of tablesOf(r)) {
    const saved = new Map<string, object>();
    for (const k in records) if (Object.hasOwn(records, k)) saved.set(k, records[k]!);
    out[table] = saved;
  }
  return out;
}

// diff and sameRecord run over every record (40,000 with 10,000 tasks) at each save of a daemon's
// pass: they walk the records with for-in instead of Object.entries and Object.keys, whose arrays
// were about 13 MB of garbage per save (docs/performance.md, "Idle memory").

function sameRecord(a: object, b: object): boolean {
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let n = 0;
  for (const k in ra) {
    if (!Object.hasOwn(ra, k)) continue;
    n++;
    if (!Object.hasOwn(rb, k) || ra[k] !== rb[k]) return false;
  }
  for (const k in rb) if (Object.hasOwn(rb, k)) n--;
  return n === 0;
}

function diff(p: Persisted, r: Records): Change[] {
  const out: Change[] = [];
  for (const [table, records] of tablesOf(r)) {
    const saved = p.copies[table];
    for (const k in records) {
      if (!Object.hasOwn(records, k)) continue;
      const v = records[k]!;
      const old = saved.get(k);
      if (old === v) continue;
      if (old === undefined || !sameRecord(old, v)) out.push([table, k, v]);
    }
    for (const k of saved.keys()) if (!Object.hasOwn(records, k)) out.push([table, k, null]);
  }
  return out;
}

function applyChanges(r: Records, changes: Change[]): void {
  for (const [table, key, value] of changes) {
    const records: Record<string, object> | undefined =
      table === 'task' ? r.base?.tasks : table === 'file' ? r.base?.files : r[table];
    if (records === undefined) continue;
    if (value === null) delete records[key];
    else records[key] = value;
  }
}

export async function loadSyncState(mr: Mailroom, host: string): Promise<SyncState> {
  const dir = syncDir(mr);
  let status: StatusFile | (SyncState & { version: 1 });
  try {
    status = JSON.parse(await readFile(syncStatePath(mr, host), 'utf8')) as typeof status;
  } catch {
    return emptyState(host);
  }
  if (status.host !== host) return emptyState(host);
  // Version 1: the whole state in one file (no commit point yet: the next save writes a snapshot).
  if (status.version === 1) return status;
  if (status.version !== 2) return emptyState(host);
  // The state this process committed last, if it is still what the status file names: no need to
  // parse the snapshot again (the daemon's passes). Taken out of the cache, so two loads never share
  // one object; it goes back only when saved. Changes made to it after its save (none are, by
  // syncHost and syncChanged) would be written by the next save, which diffs against what was saved.
  const path = syncStatePath(mr, host);
  const kept = lastSaved.get(path);
  lastSaved.delete(path);
  if (kept) {
    const p = persisted.get(kept.state);
    if (
      p &&
      !p.compact &&
      p.snapshot === status.snapshot &&
      p.journalBytes === status.journalBytes &&
      (await filesIntact(syncDir(mr), host, p))
    ) {
      if (p.hasBase === (kept.state.base !== null)) {
        for (const k of STATUS_KEYS) delete kept.state[k];
        for (const k of STATUS_KEYS)
          if (status[k] !== undefined) Object.assign(kept.state, { [k]: status[k] });
        return kept.state;
      }
    }
  }
  const state: SyncState = emptyState(host);
  for (const k of STATUS_KEYS) if (status[k] !== undefined) Object.assign(state, { [k]: status[k] });
  let snapshotBytes: number;
  try {
    // Read as bytes and decoded at once: readFile's 'utf8' decodes chunk by chunk (~40 ms slower at 9 MB).
    const bytes = await readFile(snapshotPath(dir, host, status.snapshot));
    snapshotBytes = bytes.length;
    const records = JSON.parse(bytes.toString('utf8')) as Records;
    Object.assign(state, { base: records.base, local: records.local, remote: records.remote });
  } catch {
    return state; // the snapshot is gone: no base
  }
  let compact = false;
  if (status.journalBytes > 0) {
    try {
      const journal = await readCommitted(journalPath(dir, host, status.snapshot), status.journalBytes);
      for (const line of journal.split('\n'))
        if (line !== '') applyChanges(state, JSON.parse(line) as Change[]);
    } catch {
      // A committed journal that does not read back: keep what was read, start afresh at the next save.
      compact = true;
    }
  }
  persisted.set(state, {
    snapshot: status.snapshot,
    snapshotBytes,
    journalBytes: status.journalBytes,
    hasBase: state.base !== null,
    copies: copiesOf(state),
    compact,
    fieldsPath: fieldsPath(dir, host, status.snapshot),
  });
  return state;
}

/**
 * The fields of task `id`'s base version, for a merge: from its record, or from the snapshot's
 * fields file (read once per loaded state). Undefined when not known: a merge then has no base.
 */
export async function baseFields(state: SyncState, id: string): Promise<MergeFields | undefined> {
  const kept = state.base?.tasks[id]?.base;
  if (kept !== FIELDS_APART) return kept;
  const p = persisted.get(state);
  if (!p) return undefined;
  const all = await fieldsApart(p);
  return Object.hasOwn(all, id) ? all[id] : undefined;
}

/** The fields file of `p`'s snapshot; a missing or broken one reads as empty (merges lose their base). */
function fieldsApart(p: Persisted): Promise<Record<string, MergeFields>> {
  p.fields ??= readFile(p.fieldsPath)
    .then((bytes) => {
      const data: unknown = JSON.parse(bytes.toString('utf8'));
      return data && typeof data === 'object' ? (data as Record<string, MergeFields>) : {};
    })
    .catch(() => ({}));
  return p.fields;
}

/** The snapshot and journal are still there at the sizes this process wrote (nobody cut or removed them). */
async function filesIntact(dir: string, host: string, p: Persisted): Promise<boolean> {
  const size = (path: string) =>
    stat(path).then(
      (st) => st.size,
      () => -1,
    );
  const [snapshot, journal] = await Promise.all([
    size(snapshotPath(dir, host, p.snapshot)),
    p.journalBytes > 0 ? size(journalPath(dir, host, p.snapshot)) : 0,
  ]);
  return snapshot === p.snapshotBytes && journal >= p.journalBytes;
}

async function readCommitted(path: string, bytes: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    if (bytesRead !== bytes) throw new Error(`${path}: shorter than its committed length`);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

export async function saveSyncState(mr: Mailroom, state: SyncState): Promise<void> {
  const path = syncStatePath(mr, state.host);
  lastSaved.delete(path);
  await commit(mr, state);
  lastSaved.set(path, { state });
}

/**
 * A loaded state that was only read, never changed: kept for the next load as a save keeps it (the
 * daemon's fast path often looks and finds nothing to do; re-parsing 9 MB then cost 150-200 ms).
 */
export function keepUnchanged(mr: Mailroom, state: SyncState): void {
  const path = syncStatePath(mr, state.host);
  if (persisted.has(state) && !lastSaved.has(path)) lastSaved.set(path, { state });
}

async function commit(mr: Mailroom, state: SyncState): Promise<void> {
  const dir = syncDir(mr);
  const host = checkHostName(state.host);
  const p = persisted.get(state);
  const status = (snapshot: string, journalBytes: number): StatusFile => {
    const out: StatusFile = { version: 2, host, snapshot, journalBytes };
    for (const k of STATUS_KEYS) if (state[k] !== undefined) Object.assign(out, { [k]: state[k] });
    return out;
  };
  const writeStatus = (s: StatusFile) =>
    writeFileAtomic(syncStatePath(mr, host), JSON.stringify(s), { mkdir: true });

  if (p && !p.compact && p.hasBase === (state.base !== null)) {
    const changes = diff(p, state);
    if (changes.length === 0) return writeStatus(status(p.snapshot, p.journalBytes));
    if (p.journalBytes < p.snapshotBytes / 4 + 65_536) {
      const line = Buffer.from(`${JSON.stringify(changes)}\n`, 'utf8');
      try {
        await appendAt(journalPath(dir, host, p.snapshot), p.journalBytes, line);
        await writeStatus(status(p.snapshot, p.journalBytes + line.length));
      } catch (err) {
        p.compact = true; // whatever reached the disk, the next save starts from a new snapshot
        throw err;
      }
      p.journalBytes += line.length;
      for (const [table, key, value] of changes) {
        if (value === null) p.copies[table].delete(key);
        else p.copies[table].set(key, value);
      }
      return;
    }
  }

  // A new snapshot: its fields file and itself written whole, then committed by the status file,
  // then the old files removed.
  const gen = newGenerationId();
  const split = await splitFields(state, p);
  const text = JSON.stringify({
    version: 2,
    host,
    base: state.base && { tasks: split.tasks, files: state.base.files },
    local: state.local,
    remote: state.remote,
  });
  // What the text holds, taken with it: a checkpoint's save runs beside apply, which goes on adding
  // records while the files are written; those are for the next save (taken after the writes, they
  // counted as saved and were lost: a first copy's pass after read a third of its files again).
  const copies = copiesOf(state);
  const hasBase = state.base !== null;
  await writeFileAtomic(fieldsPath(dir, host, gen), JSON.stringify(split.fields), { mkdir: true });
  await writeFileAtomic(snapshotPath(dir, host, gen), text, { mkdir: true });
  await writeStatus(status(gen, 0));
  persisted.set(state, {
    snapshot: gen,
    snapshotBytes: Buffer.byteLength(text),
    journalBytes: 0,
    hasBase,
    copies,
    compact: false,
    fieldsPath: fieldsPath(dir, host, gen),
    fields: Promise.resolve(split.fields),
  });
  await removeOtherGenerations(dir, host, gen);
}

/**
 * The base's task records as a snapshot writes them (fields apart) and the fields file's records.
 * A record whose fields were apart and cannot be read any more is replaced by one without them
 * (apply then reads the task again), so no record claims fields the new file does not hold.
 */
async function splitFields(
  state: SyncState,
  p: Persisted | undefined,
): Promise<{ tasks: Record<string, BaseTask>; fields: Record<string, MergeFields> }> {
  const tasks: Record<string, BaseTask> = {};
  const fields: Record<string, MergeFields> = {};
  const records = state.base?.tasks ?? {};
  let old: Record<string, MergeFields> | undefined;
  for (const id in records) {
    if (!Object.hasOwn(records, id)) continue;
    const r = records[id]!;
    let f = r.base;
    if (f === FIELDS_APART) {
      old ??= p ? await fieldsApart(p) : {};
      f = Object.hasOwn(old, id) ? old[id] : undefined;
      if (f === undefined) records[id] = { loc: r.loc, hash: r.hash, rank: r.rank };
    }
    if (f === undefined) tasks[id] = { loc: r.loc, hash: r.hash, rank: r.rank };
    else {
      fields[id] = f;
      tasks[id] = { loc: r.loc, hash: r.hash, rank: r.rank, base: FIELDS_APART };
    }
  }
  return { tasks, fields };
}

/** Writes `data` at `offset` (dropping anything past it: bytes of a save that was never committed), fsynced. */
async function appendAt(path: string, offset: number, data: Buffer): Promise<void> {
  const fh = await open(path, offset === 0 ? 'w' : 'r+', 0o644);
  try {
    await fh.truncate(offset);
    await fh.write(data, 0, data.length, offset);
    await fh.sync();
  } finally {
    await fh.close();
  }
  // The journal's folder entry is fsynced by the status file's write, which follows in the same folder.
}

/** Best effort: snapshots and journals of this host that the status file no longer names. */
async function removeOtherGenerations(dir: string, host: string, keep: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(`${host}~`) || name.startsWith(`${host}~${keep}.`)) continue;
    if (name.endsWith('.json') || name.endsWith('.journal')) await unlink(join(dir, name)).catch(() => {});
  }
}

/**
 * Only the status fields of a host's sync state (last sync, last attempt, last error), without
 * loading its records: what `status` and the board show, cheap enough to read on every refresh.
 */
export async function readSyncStatus(
  mr: Mailroom,
  host: string,
): Promise<Pick<SyncState, (typeof STATUS_KEYS)[number]>> {
  try {
    const data = JSON.parse(await readFile(syncStatePath(mr, host), 'utf8')) as Record<string, unknown>;
    const out: Pick<SyncState, (typeof STATUS_KEYS)[number]> = {};
    for (const key of STATUS_KEYS) {
      const v = data[key];
      if (key === 'lastDurationMs') {
        if (typeof v === 'number') out.lastDurationMs = v;
      } else if (typeof v === 'string') out[key] = v;
    }
    return out;
  } catch {
    return {}; // never synced, or a state file being replaced: nothing to show yet
  }
}
