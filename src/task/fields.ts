// The plain values a task's fields are checked against, with no validator library: the CLI's
// start-up path (check-task.ts) uses these, and so does the zod schema (schema.ts) they are held to.

export const PRIORITIES = ['urgent', 'high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const PRIORITY_RANK: Record<Priority, number> = { urgent: 0, high: 1, normal: 2, low: 3 };

/**
 * RFC 3339 date-times with any offset (`Z`, `+00:00`, `-05:00`; `T`/`t` and `Z`/`z`): what
 * `date -u -Iseconds`, Python's `isoformat()` and JavaScript's `toISOString()` print. mailroom itself
 * writes `Z`; times are compared as instants, never as strings.
 */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
export const TIME_HINT = 'expected an RFC 3339 time like 2026-11-22T10:15:00Z or 2026-11-22T11:15:00+01:00';

export const isRfc3339 = (s: string): boolean => RFC3339.test(s) && !Number.isNaN(Date.parse(s));

/** A task's fields in the schema's order: the order a new task file is written in (render.ts). */
export const TASK_FIELDS = [
  'id',
  'title',
  'from',
  'to',
  'state',
  'priority',
  'created',
  'attempt',
  'max_attempts',
  'ack_timeout',
  'run_timeout',
  'history',
  'error',
  'kind',
] as const;
