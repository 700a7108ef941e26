// Field-level merge of two versions of one task file changed on both sides (docs/spec.md §6). Pure:
// text in, text out.
//
// Invariants: nothing either side wrote is lost (a field changed on one side keeps that change, both
// histories are kept, a body changed on both sides keeps both bodies), and the result is the LOCAL
// file with only the merged fields' lines edited, so comments, key order, quoting, a BOM and CRLF a
// human wrote survive. Per top-level field, with base = the version of the last sync:
//
//   | local vs remote | local vs base | remote vs base | result                                      |
//   |-----------------|---------------|----------------|---------------------------------------------|
//   | equal           | -             | -              | keep local                                  |
//   | differ          | unchanged     | changed        | remote's value                              |
//   | differ          | changed       | unchanged      | local's value                               |
//   | differ          | changed       | changed        | by field, below (also when there is no base) |
//
// The winner is the side with the higher `attempt` (a retry happened: failed -> queued is legitimate),
// else the side whose state is further along (RANK; done beats failed), else local.
//
//   | field     | both changed differently                                                 |
//   |-----------|--------------------------------------------------------------------------|
//   | state     | the winner's                                                             |
//   | attempt   | the larger                                                               |
//   | history   | union of both sides' entries in time order (entries on both sides once)  |
//   | error     | the winner's (it describes the winner's state)                           |
//   | any other | the winner's, and the field is reported in `conflicts`                   |
//   | body      | local's, then a marked conflict section holding remote's verbatim        |
//
// Bodies are compared ignoring CRLF vs LF: line endings are the file's formatting, not its content.

import { sha256Hex } from '../hash.js';
import { joinFrontmatter, type SplitFile, splitFrontmatter } from '../task/frontmatter.js';
import { parseTask } from '../task/parse.js';
import type { Task } from '../task/schema.js';
import { furthest } from '../task/state.js';
import { parseYaml, renderFlowMap, renderYaml, YamlEditor } from '../yaml/document.js';

/**
 * What a field-level merge needs of a task's base version (the version both sides last agreed on):
 * its frontmatter and its body's hash. The sync state keeps it in each base record (`BaseTask.base`).
 */
export interface MergeFields {
  /** The frontmatter as plain data, exactly as written (no defaults filled in). */
  fields: Record<string, unknown>;
  /** sha256 (hex) of the body with line endings normalised to `\n`. */
  bodyHash: string;
}

export interface MergeResult {
  /** The merged task file, based on the local text. */
  text: string;
  /** Fields changed differently on both sides where one side's value was dropped; `body` if both bodies were kept. */
  conflicts: string[];
}

type Fields = Record<string, unknown>;

// Line endings are formatting, not content: a body that differs only in CRLF vs LF is the same body.
const lf = (text: string): string => text.replace(/\r\n/g, '\n');
const bodyHashOf = (body: string): string => sha256Hex(lf(body));

function frontmatterFields(yaml: string): Fields | undefined {
  const parsed = parseYaml(yaml);
  if (!parsed.ok) return undefined;
  const v = parsed.value;
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Fields) : undefined;
}

/** What to keep of a synced task as the base of the next merge; undefined when it is not a task file. */
export function baseOf(text: string): MergeFields | undefined {
  const split = splitFrontmatter(text);
  if (!split.ok) return undefined;
  const fields = frontmatterFields(split.file.yaml);
  // Copied through JSON: the parser's strings are slices of `text`, and a base kept for every synced
  // task would keep every task's whole file alive (20 MB at 10,000 tasks after a first sync).
  return (
    fields && { fields: JSON.parse(JSON.stringify(fields)) as Fields, bodyHash: bodyHashOf(split.file.body) }
  );
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  const bo = b as Fields;
  return (
    ak.length === bk.length && ak.every((k) => Object.hasOwn(bo, k) && deepEqual((a as Fields)[k], bo[k]))
  );
}

function parsedOrThrow(text: string, which: string): { task: Task; file: SplitFile; fields: Fields } {
  const r = parseTask(text);
  if (!r.ok) throw new Error(`mergeTask: the ${which} version is not a valid task: ${r.problem.reason}`);
  const fields = frontmatterFields(r.value.file.yaml)!; // parseTask checked it is a mapping
  return { task: r.value.task, file: r.value.file, fields };
}

/** Which side's state stands when both changed: a retry (higher attempt) first, then progress, then local. */
function winnerOf(l: Task, r: Task): 'local' | 'remote' {
  if (l.attempt !== r.attempt) return l.attempt > r.attempt ? 'local' : 'remote';
  if (l.state === r.state) return 'local';
  // Different states: furthest picks exactly one (done beats failed: the work was delivered).
  return furthest(l.state, r.state) === l.state ? 'local' : 'remote';
}

const timeOf = (entry: unknown): number => {
  const at = (entry as Fields | null)?.at;
  const t = typeof at === 'string' ? Date.parse(at) : Number.NaN;
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
};

/**
 * Both sides' history entries in time order. An entry present on both sides is kept once; an entry
 * repeated on one side (two identical notes) keeps its repeats, as a multiset union. Times are
 * compared as instants (so `10:00:00.5Z` sorts after `10:00:00Z`); equal times keep local's entries
 * first, each side in its own order.
 */
export function unionHistory(local: readonly unknown[], remote: readonly unknown[]): unknown[] {
  const merged = [...local];
  const used = new Set<number>();
  for (const entry of remote) {
    const i = local.findIndex((e, j) => !used.has(j) && deepEqual(e, entry));
    if (i >= 0) used.add(i);
    else merged.push(entry);
  }
  // Array.prototype.sort is stable, so ties keep the order built above.
  return merged
    .map((entry, i) => ({ entry, i, t: timeOf(entry) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((x) => x.entry);
}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function isScalar(v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** Writes `value` for `key` into the editor, touching only that field's lines. */
function writeField(yaml: YamlEditor, key: string, value: unknown, localValue: unknown): void {
  if (value === undefined) yaml.remove(key);
  else if (key === 'history' && Array.isArray(value)) writeHistory(yaml, asList(localValue), value);
  else if (isScalar(value)) yaml.setScalar(key, value);
  else yaml.setBlock(key, value);
}

function isRecord(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Appending keeps every existing history line as written; only a history that is not local's plus
// later entries is re-rendered, one flow map per line as in docs/spec.md §2.
function writeHistory(yaml: YamlEditor, local: unknown[], merged: unknown[]): void {
  const isExtension = merged.length >= local.length && local.every((e, i) => deepEqual(e, merged[i]));
  const rest = isExtension ? merged.slice(local.length) : merged;
  if (!isExtension || local.length === 0 || !rest.every(isRecord)) {
    if (!merged.every(isRecord)) {
      yaml.setBlock('history', merged);
      return;
    }
    // An empty flow list makes the editor re-render the sequence as one flow map per line.
    yaml.setBlock('history', []);
    for (const entry of merged) yaml.appendToSeq('history', entry);
    return;
  }
  for (const entry of rest) yaml.appendToSeq('history', entry as Fields);
}

/** The whole frontmatter rendered anew: the fallback when a surgical edit cannot express the result. */
function renderFields(fields: Fields, eol: '\n' | '\r\n'): string {
  const { history, ...head } = fields;
  let yaml = Object.keys(head).length > 0 ? renderYaml(head, eol) : '';
  if (history === undefined) return yaml;
  const entries = asList(history);
  if (!Array.isArray(history) || !entries.every(isRecord)) return yaml + renderYaml({ history }, eol);
  yaml += `history:${eol}`;
  for (const entry of entries) yaml += `  - ${renderFlowMap(entry)}${eol}`;
  return yaml;
}

/** The local frontmatter with only the fields whose merged value differs rewritten. */
function editFrontmatter(file: SplitFile, local: Fields, merged: Fields, keys: string[]): string {
  let text: string | undefined;
  try {
    const yaml = new YamlEditor(file.yaml, file.eol);
    for (const key of keys) {
      if (!deepEqual(merged[key], local[key])) writeField(yaml, key, merged[key], local[key]);
    }
    text = yaml.toString();
    if (text.length > 0 && !text.endsWith('\n')) text += file.eol;
  } catch {
    text = undefined; // the editor refuses layouts it cannot edit in place (a flow-style mapping)
  }
  // If the edit failed or does not read back as the merged fields, the frontmatter is rendered anew:
  // correct beats pretty.
  if (text !== undefined && deepEqual(frontmatterFields(text), merged)) return text;
  return renderFields(merged, file.eol);
}

const CONFLICT_MARKER =
  '<!-- mailroom sync conflict: the body was changed on both sides; the other version follows. Merge by hand and delete this section. -->';

function conflictBody(local: string, remote: string, remoteLabel: string, eol: string): string {
  let out = local;
  if (out.length > 0 && !out.endsWith('\n')) out += eol;
  if (out.trim().length > 0) out += eol;
  const theirs = remote.replace(/\r?\n/g, eol);
  out += `${CONFLICT_MARKER}${eol}## Conflict: body from ${remoteLabel}${eol}${eol}${theirs}`;
  return out.endsWith('\n') ? out : out + eol;
}

/**
 * Merge two versions of one task that both changed since `base` (undefined: no base, so
 * every difference counts as changed on both sides). Both texts must be valid tasks with the same id.
 * The result parses with parseTask and keeps the local file's formatting where fields did not change.
 */
export function mergeTask(
  base: MergeFields | undefined,
  local: string,
  remote: string,
  opts: { remoteLabel: string },
): MergeResult {
  const l = parsedOrThrow(local, 'local');
  const r = parsedOrThrow(remote, 'remote');
  if (l.task.id !== r.task.id) {
    throw new Error(`mergeTask: cannot merge two different tasks (${l.task.id} and ${r.task.id})`);
  }
  const winner = winnerOf(l.task, r.task);
  const conflicts: string[] = [];

  // Decide every top-level field: local's keys in order, then keys only remote or base hold.
  const keys = [
    ...new Set([...Object.keys(l.fields), ...Object.keys(r.fields), ...Object.keys(base?.fields ?? {})]),
  ];
  const merged: Fields = {};
  for (const key of keys) {
    const lv = l.fields[key];
    const rv = r.fields[key];
    let value: unknown;
    if (deepEqual(lv, rv)) value = lv;
    else if (base && deepEqual(lv, base.fields[key])) value = rv;
    else if (base && deepEqual(rv, base.fields[key])) value = lv;
    else if (key === 'state') value = winner === 'local' ? lv : rv;
    else if (key === 'attempt') value = l.task.attempt >= r.task.attempt ? lv : rv;
    else if (key === 'history') value = unionHistory(asList(lv), asList(rv));
    else if (key === 'error') {
      value = winner === 'local' ? lv : rv;
      // Two different failure accounts: one is dropped, so say so. One side without an error is just
      // the other state (e.g. a retry cleared it), not a conflict.
      if (lv !== undefined && rv !== undefined) conflicts.push(key);
    } else {
      value = winner === 'local' ? lv : rv;
      conflicts.push(key);
    }
    if (value !== undefined) merged[key] = value;
  }

  const yamlText = editFrontmatter(l.file, l.fields, merged, keys);

  // Body.
  const lb = l.file.body;
  const rb = r.file.body;
  let body = lb;
  if (lf(lb) !== lf(rb)) {
    const lChanged = base === undefined || bodyHashOf(lb) !== base.bodyHash;
    const rChanged = base === undefined || bodyHashOf(rb) !== base.bodyHash;
    if (rChanged && !lChanged) body = rb.replace(/\r?\n/g, l.file.eol);
    else if (rChanged) {
      body = conflictBody(lb, rb, opts.remoteLabel, l.file.eol);
      conflicts.push('body');
    }
  }

  const text = joinFrontmatter({ ...l.file, yaml: yamlText, body });
  const check = parseTask(text, l.task.id);
  if (!check.ok) {
    throw new Error(
      `mergeTask: the merged ${l.task.id} does not parse (${check.problem.reason}); this is a bug`,
    );
  }
  return { text, conflicts };
}
