// Task file text -> a validated task, or a problem a person can act on (line and reason). Pure.

import { parseYaml } from '../yaml/document.js';
import { checkTask } from './check-task.js';
import { type SplitFile, splitFrontmatter } from './frontmatter.js';
import type { Task } from './schema.js';

export interface TaskProblem {
  /** 1-based line in the file. */
  line?: number;
  reason: string;
}

export interface ParsedTask {
  task: Task;
  file: SplitFile;
}

export type ParseResult = { ok: true; value: ParsedTask } | { ok: false; problem: TaskProblem };

const fail = (reason: string, line?: number): ParseResult => ({
  ok: false,
  problem: line === undefined ? { reason } : { reason, line },
});

// ignoreBOM keeps a byte order mark in the text, so a rewrite keeps it too.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decode file bytes; invalid UTF-8 or NUL bytes make it unreadable (we would corrupt it on rewrite). */
export function decodeTaskBytes(
  bytes: Uint8Array,
): { ok: true; text: string } | { ok: false; problem: TaskProblem } {
  if (bytes.includes(0))
    return { ok: false, problem: { reason: 'binary file (contains NUL bytes), not a task' } };
  try {
    return { ok: true, text: utf8.decode(bytes) };
  } catch {
    return { ok: false, problem: { reason: 'not valid UTF-8 text' } };
  }
}

/** Parse a task file. `expectedId`, when given, is the file name without `.md` and must equal `id`. */
export function parseTask(text: string, expectedId?: string): ParseResult {
  const split = splitFrontmatter(text);
  if (!split.ok) {
    return split.reason === 'no-frontmatter'
      ? fail('no frontmatter: a task file starts with a line "---", then YAML fields, then "---"', 1)
      : fail('frontmatter is not closed: add a line "---" after the YAML fields', split.line);
  }
  const file = split.file;
  const yamlLine0 = 1; // the YAML starts on line 2 of the file
  const parsed = parseYaml(file.yaml);
  if (!parsed.ok) {
    const line = parsed.problem.line === undefined ? undefined : parsed.problem.line + yamlLine0;
    return fail(`invalid YAML: ${parsed.problem.message}`, line);
  }
  const data = parsed.value;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return fail('frontmatter must be YAML fields (key: value), not a list or a single value', 2);
  }
  const result = checkTask(data as Record<string, unknown>);
  if (!result.ok) {
    const path = result.path.map(String);
    const line = parsed.lineOf(path);
    const reason = result.missing ? `missing required field "${path[0]}"` : result.message;
    return fail(reason, line === undefined ? undefined : line + yamlLine0);
  }
  const task = result.task;
  if (expectedId !== undefined && task.id !== expectedId) {
    return fail(
      `id "${task.id}" does not match the file name "${expectedId}.md": rename the file or fix the id`,
      (parsed.lineOf(['id']) ?? 0) + yamlLine0,
    );
  }
  return { ok: true, value: { task, file } };
}
