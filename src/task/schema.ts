// What a task's frontmatter must hold (docs/spec.md §2), as a zod schema: the source of the Task type
// and the reference that check-task.ts, which parse.ts runs, is held to by its tests. Validation
// messages name the field and the fix, because a human will read them next to the file they wrote.

import { z } from 'zod';
import { isDuration } from '../duration.js';
import { AGENT_NAME, isTaskId } from '../names.js';
import { isRfc3339, PRIORITIES, TIME_HINT } from './fields.js';
import { STATES } from './state.js';

const agent = (field: string) =>
  z.string({ error: `${field}: expected an agent name` }).regex(AGENT_NAME, {
    error: `${field}: not a valid agent name (lowercase letters, digits, - and _, starting with a letter)`,
  });
const time = (field: string) =>
  z.string({ error: `${field}: ${TIME_HINT}` }).refine(isRfc3339, { error: `${field}: ${TIME_HINT}` });
const duration = (field: string) =>
  z
    .string({ error: `${field}: expected a duration like 90s, 5m, 2h or 1d` })
    .refine(isDuration, { error: `${field}: expected a duration like 90s, 5m, 2h or 1d` });
const state = (field: string) =>
  z.enum(STATES, {
    error: (iss) => `${field}: unknown state ${JSON.stringify(iss.input)}; use one of ${STATES.join(', ')}`,
  });

export const HistoryEntrySchema = z.looseObject({
  state: state('history state'),
  at: time('history at'),
  by: z.string({ error: 'history by: expected who made the change' }).min(1),
  note: z.string({ error: 'history note: expected text' }).optional(),
});

export const TaskErrorSchema = z.looseObject({
  message: z.string({ error: 'error.message: expected text' }),
  retryable: z.boolean({ error: 'error.retryable: expected true or false' }).optional(),
  tried: z.string({ error: 'error.tried: expected text' }).optional(),
});

export const TaskSchema = z.looseObject({
  id: z
    .string({ error: 'id: expected the task id (the file name without .md)' })
    .refine(isTaskId, { error: 'id: letters, digits, . _ - only, starting with a letter or digit' }),
  title: z
    .string({ error: 'title: expected a one-line title' })
    .min(1, { error: 'title: must not be empty' }),
  from: agent('from'),
  to: agent('to'),
  state: state('state'),
  priority: z
    .enum(PRIORITIES, {
      error: (iss) => `priority: ${JSON.stringify(iss.input)} is not one of ${PRIORITIES.join(', ')}`,
    })
    .default('normal'),
  created: time('created'),
  attempt: z.number({ error: 'attempt: expected a whole number' }).int().min(1).default(1),
  max_attempts: z.number({ error: 'max_attempts: expected a whole number' }).int().min(1).default(3),
  ack_timeout: duration('ack_timeout').default('5m'),
  run_timeout: duration('run_timeout').default('30m'),
  history: z
    .array(HistoryEntrySchema, { error: 'history: expected a list of {state, at, by} entries' })
    .default([]),
  error: TaskErrorSchema.optional(),
  /** `question`: a question whose result is the answer (`mailroom ask`). Other words are kept as they are. */
  kind: z.string({ error: 'kind: expected a word such as question' }).optional(),
});

export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;
export type TaskError = z.infer<typeof TaskErrorSchema>;
export type Task = z.infer<typeof TaskSchema>;
