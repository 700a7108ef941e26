// A task's frontmatter checked by hand, as TaskSchema (schema.ts) checks it: the same values
// accepted, the same result (defaults filled in, unknown keys kept, keys in the schema's order and
// then the others in theirs) and the same first problem, named by the same path and words.
// test/task/check-task.test.ts holds it to the schema over hundreds of valid and broken tasks.
// Why by hand: every command parses a task, and building the schema's validators cost a short
// command more time at start-up than the check itself ever does (docs/performance.md).

import { isDuration } from '../duration.js';
import { AGENT_NAME, isTaskId } from '../names.js';
import { isRfc3339, PRIORITIES, TASK_FIELDS, TIME_HINT } from './fields.js';
import type { Task } from './schema.js';
import { STATES } from './state.js';

export type TaskCheck =
  | { ok: true; task: Task }
  /** `missing`: a top-level field is absent where a value is required (the schema's "invalid_type"). */
  | { ok: false; path: (string | number)[]; message: string; missing: boolean };

const TASK_KEYS: ReadonlySet<string> = new Set(TASK_FIELDS);
const ENTRY_KEYS = new Set(['state', 'at', 'by', 'note']);
const ERROR_KEYS = new Set(['message', 'retryable', 'tried']);

/** A problem found: thrown inside the check, returned by checkTask. */
class Problem {
  constructor(
    readonly path: (string | number)[],
    readonly message: string,
    readonly missing: boolean,
  ) {}
}

type Fields = Record<string, unknown>;

const isFields = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The schema's word for a value that is not an object (YAML's .nan and .inf are named as such). */
const kindOf = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'array'
      : typeof v === 'number' && !Number.isFinite(v)
        ? String(v)
        : typeof v;

function fields(v: unknown, path: (string | number)[]): Fields {
  if (isFields(v)) return v;
  throw new Problem(path, `Invalid input: expected object, received ${kindOf(v)}`, v === undefined);
}

/** A string, or the problem `message` at `path` (absent: missing). */
function text(v: unknown, path: (string | number)[], message: string): string {
  if (typeof v === 'string') return v;
  throw new Problem(path, message, v === undefined);
}

function agent(v: unknown, field: string): string {
  const s = text(v, [field], `${field}: expected an agent name`);
  if (AGENT_NAME.test(s)) return s;
  throw new Problem(
    [field],
    `${field}: not a valid agent name (lowercase letters, digits, - and _, starting with a letter)`,
    false,
  );
}

function time(v: unknown, path: (string | number)[], field: string): string {
  const s = text(v, path, `${field}: ${TIME_HINT}`);
  if (isRfc3339(s)) return s;
  throw new Problem(path, `${field}: ${TIME_HINT}`, false);
}

function state(v: unknown, path: (string | number)[], field: string): Task['state'] {
  if ((STATES as readonly unknown[]).includes(v)) return v as Task['state'];
  throw new Problem(
    path,
    `${field}: unknown state ${JSON.stringify(v)}; use one of ${STATES.join(', ')}`,
    false,
  );
}

function whole(v: unknown, field: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1) return v;
  throw new Problem([field], `${field}: expected a whole number`, false);
}

function duration(v: unknown, field: string, fallback: string): string {
  if (v === undefined) return fallback;
  if (typeof v === 'string' && isDuration(v)) return v;
  throw new Problem([field], `${field}: expected a duration like 90s, 5m, 2h or 1d`, false);
}

/** The keys of `from` that `known` does not name, added to `to` in their order. */
function keepOthers(from: Fields, to: Fields, known: ReadonlySet<string>): void {
  for (const key of Object.keys(from)) if (!known.has(key)) to[key] = from[key];
}

function historyEntry(v: unknown, i: number): Task['history'][number] {
  const e = fields(v, ['history', i]);
  const out: Fields = {
    state: state(e.state, ['history', i, 'state'], 'history state'),
    at: time(e.at, ['history', i, 'at'], 'history at'),
  };
  const by = text(e.by, ['history', i, 'by'], 'history by: expected who made the change');
  if (by.length === 0)
    throw new Problem(['history', i, 'by'], 'history by: expected who made the change', false);
  out.by = by;
  if (e.note !== undefined) out.note = text(e.note, ['history', i, 'note'], 'history note: expected text');
  keepOthers(e, out, ENTRY_KEYS);
  return out as Task['history'][number];
}

function taskError(v: unknown): NonNullable<Task['error']> {
  const e = fields(v, ['error']);
  const out: Fields = { message: text(e.message, ['error', 'message'], 'error.message: expected text') };
  if (e.retryable !== undefined) {
    if (typeof e.retryable !== 'boolean')
      throw new Problem(['error', 'retryable'], 'error.retryable: expected true or false', false);
    out.retryable = e.retryable;
  }
  if (e.tried !== undefined) out.tried = text(e.tried, ['error', 'tried'], 'error.tried: expected text');
  keepOthers(e, out, ERROR_KEYS);
  return out as NonNullable<Task['error']>;
}

function check(d: Fields): Task {
  const id = text(d.id, ['id'], 'id: expected the task id (the file name without .md)');
  if (!isTaskId(id))
    throw new Problem(['id'], 'id: letters, digits, . _ - only, starting with a letter or digit', false);
  const title = text(d.title, ['title'], 'title: expected a one-line title');
  if (title.length === 0) throw new Problem(['title'], 'title: must not be empty', false);
  const out: Fields = { id, title, from: agent(d.from, 'from'), to: agent(d.to, 'to') };
  out.state = state(d.state, ['state'], 'state');
  if (d.priority !== undefined && !(PRIORITIES as readonly unknown[]).includes(d.priority))
    throw new Problem(
      ['priority'],
      `priority: ${JSON.stringify(d.priority)} is not one of ${PRIORITIES.join(', ')}`,
      false,
    );
  out.priority = d.priority ?? 'normal';
  out.created = time(d.created, ['created'], 'created');
  out.attempt = whole(d.attempt, 'attempt', 1);
  out.max_attempts = whole(d.max_attempts, 'max_attempts', 3);
  out.ack_timeout = duration(d.ack_timeout, 'ack_timeout', '5m');
  out.run_timeout = duration(d.run_timeout, 'run_timeout', '30m');
  if (d.history !== undefined && !Array.isArray(d.history))
    throw new Problem(['history'], 'history: expected a list of {state, at, by} entries', false);
  out.history = ((d.history ?? []) as unknown[]).map(historyEntry);
  if (d.error !== undefined) out.error = taskError(d.error);
  if (d.kind !== undefined) out.kind = text(d.kind, ['kind'], 'kind: expected a word such as question');
  keepOthers(d, out, TASK_KEYS);
  return out as Task;
}

/** The frontmatter's fields as a task, or its first problem. */
export function checkTask(data: Fields): TaskCheck {
  try {
    return { ok: true, task: check(data) };
  } catch (err) {
    if (err instanceof Problem)
      return {
        ok: false,
        path: err.path,
        message: err.message,
        missing: err.missing && err.path.length === 1,
      };
    throw err;
  }
}
