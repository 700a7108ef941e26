// A manifest as a change since the last one (docs/sync.md, "The far agent"). At 10,000 tasks a
// manifest is about 1.2 MB: over a 40 ms link its transfer, decryption and parse were a fifth of a
// one-shot `mailroom sync` that changed nothing. Both sides keep the last manifest they exchanged
// under a generation id the far side gave it; the hub asks with that id (`since`), and a far side
// that still holds the same generation answers with what changed, under a new id. Any mismatch (a
// far side that lost its copy, another hub in between, a hub without one) gets the whole manifest.
// Pure: manifests in, a delta out, and back.
//
// The far side is not trusted more for a delta: the hub merges it into its own copy and then checks
// the result exactly as it checks a whole manifest (checkManifest, and every name before a path is
// built), so a delta can say nothing a whole manifest could not.

import { MAX_MANIFEST_ENTRIES, type Manifest, type ManifestRecord } from './protocol.js';

/** What changed between two manifests; `problems` and `reads` are always whole. */
export interface ManifestDelta {
  since: string;
  generation: string;
  /** Records added or changed. */
  records: Record<string, ManifestRecord>;
  /** Paths whose records are gone. */
  gone: string[];
  /** Task ids added or moved, with their path. */
  tasks: [id: string, path: string][];
  tasksGone: string[];
  filesAdded: string[];
  filesGone: string[];
  problems: Manifest['problems'];
  reads: number;
}

/** A map by path with no prototype: a path is only ever a key (`__proto__` too). */
const emptyRecords = (): Record<string, ManifestRecord> => Object.create(null);

const sameRecord = (a: ManifestRecord, b: ManifestRecord): boolean =>
  a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4];

/** `next` as a change from `prev`; `unchanged` when the two list the same records, tasks and files. */
export function manifestDelta(
  prev: Manifest,
  next: Manifest,
  since: string,
  generation: string,
): { delta: ManifestDelta; unchanged: boolean } {
  const records = emptyRecords();
  const gone: string[] = [];
  let changed = 0;
  for (const path of Object.keys(next.records)) {
    const was = Object.hasOwn(prev.records, path) ? prev.records[path] : undefined;
    const now = next.records[path]!;
    // The same array when the far agent's scan kept the record (far-scan.ts manifestRecords).
    if (was !== now && (was === undefined || !sameRecord(was, now))) {
      records[path] = now;
      changed++;
    }
  }
  for (const path of Object.keys(prev.records)) if (!Object.hasOwn(next.records, path)) gone.push(path);
  const before = new Map(prev.tasks);
  const after = new Map(next.tasks);
  const tasks: [string, string][] = [];
  for (const [id, path] of after) if (before.get(id) !== path) tasks.push([id, path]);
  const tasksGone = [...before.keys()].filter((id) => !after.has(id));
  const filesBefore = new Set(prev.files);
  const filesAfter = new Set(next.files);
  const filesAdded = next.files.filter((f) => !filesBefore.has(f));
  const filesGone = prev.files.filter((f) => !filesAfter.has(f));
  const unchanged =
    changed + gone.length + tasks.length + tasksGone.length + filesAdded.length + filesGone.length === 0;
  return {
    delta: {
      since,
      generation,
      records,
      gone,
      tasks,
      tasksGone,
      filesAdded,
      filesGone,
      problems: next.problems,
      reads: next.reads,
    },
    unchanged,
  };
}

/**
 * `prev` with `delta` applied: a new manifest (`prev` is left as it was). Its shape is the caller's
 * to check (checkManifest) before anything uses it.
 */
export function applyDelta(prev: Manifest, delta: ManifestDelta): Manifest {
  const records = emptyRecords();
  for (const path of Object.keys(prev.records)) records[path] = prev.records[path]!;
  for (const path of delta.gone) delete records[path];
  for (const path of Object.keys(delta.records)) records[path] = delta.records[path]!;
  // Lists the change leaves alone are the copy's own (never changed in place): a pass whose far
  // side only rewrote files in place copied 10,000 task pairs twice.
  let tasks = prev.tasks;
  if (delta.tasksGone.length > 0 || delta.tasks.length > 0) {
    const byId = new Map(prev.tasks);
    for (const id of delta.tasksGone) byId.delete(id);
    for (const [id, path] of delta.tasks) byId.set(id, path);
    tasks = [...byId];
  }
  let files = prev.files;
  if (delta.filesGone.length > 0 || delta.filesAdded.length > 0) {
    const set = new Set(prev.files);
    for (const f of delta.filesGone) set.delete(f);
    for (const f of delta.filesAdded) set.add(f);
    files = [...set];
  }
  return { records, tasks, files, problems: delta.problems, reads: delta.reads };
}

const GENERATION = /^[0-9a-z-]{1,64}$/;
export const isGeneration = (v: unknown): v is string => typeof v === 'string' && GENERATION.test(v);

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const textList = (v: unknown, max: number): v is string[] =>
  Array.isArray(v) &&
  v.length <= MAX_MANIFEST_ENTRIES &&
  v.every((x) => typeof x === 'string' && x.length <= max);

/**
 * A delta as received: its frame (ids, lists and their bounds), or undefined. The records, pairs and
 * problems in it are checked with the merged manifest (checkManifest), which bounds every one.
 */
export function checkDelta(v: unknown): ManifestDelta | undefined {
  if (!isPlain(v) || !isGeneration(v.since) || !isGeneration(v.generation)) return undefined;
  if (!isPlain(v.records) || Object.keys(v.records).length > MAX_MANIFEST_ENTRIES) return undefined;
  if (!textList(v.gone, 4096) || !textList(v.tasksGone, 128)) return undefined;
  if (!textList(v.filesAdded, 4096) || !textList(v.filesGone, 4096)) return undefined;
  if (!Array.isArray(v.tasks) || v.tasks.length > MAX_MANIFEST_ENTRIES) return undefined;
  if (!Array.isArray(v.problems)) return undefined;
  return v as unknown as ManifestDelta;
}
