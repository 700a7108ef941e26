// Applies a change to a task file's text, touching only the changed fields' lines and the end of the
// body. Pure: text in, text out. The result is re-parsed by the caller before it is written.

import { YamlEditor } from '../yaml/document.js';
import { type FastScalar, fastEdit } from '../yaml/fast-edit.js';
import { joinFrontmatter, type SplitFile } from './frontmatter.js';
import type { HistoryEntry, TaskError } from './schema.js';

type Scalar = string | number | boolean;

export interface TaskEdit {
  /** Top-level scalar fields to set (quoting style of the old value is kept). */
  set?: Record<string, Scalar>;
  /** Top-level keys to remove (e.g. `escalated` when a person takes a task back). */
  unset?: string[];
  /** `error` block: an object sets it, null removes it. */
  error?: TaskError | null;
  /** History entries to append, in order. */
  history?: HistoryEntry[];
  /** Text appended under a `## Result` heading at the end of the body. */
  result?: string;
}

function compact(entry: HistoryEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { state: entry.state, at: entry.at, by: entry.by };
  if (entry.note !== undefined) out.note = entry.note;
  return out;
}

function compactError(e: TaskError): Record<string, unknown> {
  const out: Record<string, unknown> = { message: e.message };
  if (e.retryable !== undefined) out.retryable = e.retryable;
  if (e.tried !== undefined) out.tried = e.tried;
  return out;
}

export function appendResult(body: string, result: string, eol: string): string {
  const text = result.replace(/\r?\n/g, eol).replace(/(\r?\n)+$/, '');
  let out = body;
  if (out.length > 0 && !out.endsWith('\n')) out += eol;
  if (out.trim().length > 0) out += eol;
  return `${out}## Result${eol}${eol}${text}${eol}`;
}

/** The frontmatter after the edit: by the fast editor when it is sure, else by the library's. */
function editYaml(file: SplitFile, edit: TaskEdit): string {
  if (!edit.unset?.length && edit.error === undefined) {
    const fast = fastEdit(file.yaml, {
      ...(edit.set ? { set: edit.set } : {}),
      ...(edit.history?.length
        ? {
            append: {
              key: 'history',
              entries: edit.history.map((h) => compact(h) as Record<string, FastScalar>),
            },
          }
        : {}),
    });
    if (fast !== undefined) return fast;
  }
  const yaml = new YamlEditor(file.yaml, file.eol);
  for (const [key, value] of Object.entries(edit.set ?? {})) yaml.setScalar(key, value);
  for (const key of edit.unset ?? []) yaml.remove(key);
  if (edit.error === null) yaml.remove('error');
  else if (edit.error !== undefined) yaml.setBlock('error', compactError(edit.error));
  for (const entry of edit.history ?? []) yaml.appendToSeq('history', compact(entry));
  return yaml.toString();
}

export function applyTaskEdit(file: SplitFile, edit: TaskEdit): string {
  let yamlText = editYaml(file, edit);
  if (yamlText.length > 0 && !yamlText.endsWith('\n')) yamlText += file.eol;
  const body = edit.result === undefined ? file.body : appendResult(file.body, edit.result, file.eol);
  return joinFrontmatter({ ...file, yaml: yamlText, body });
}
