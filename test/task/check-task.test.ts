// checkTask (src/task/check-task.ts) against TaskSchema (src/task/schema.ts), the zod schema it stands
// in for: over every field of a valid task set to each of many values, deleted, and nested fields of
// history entries and of error, both must accept the same tasks with the same result (defaults,
// unknown keys kept, key order) and refuse the rest with the same first problem (path and words).

import { describe, expect, it } from 'vitest';
import { checkTask } from '../../src/task/check-task.js';
import { TaskSchema } from '../../src/task/schema.js';

const ENTRY = { state: 'queued', at: '2026-11-22T10:15:00Z', by: 'dispatch' };
const VALID: Record<string, unknown> = {
  id: 't-1',
  title: 'A task',
  from: 'dispatch',
  to: 'research',
  state: 'acked',
  priority: 'high',
  created: '2026-11-22T10:15:00Z',
  attempt: 2,
  max_attempts: 3,
  ack_timeout: '5m',
  run_timeout: '2h',
  history: [ENTRY, { ...ENTRY, state: 'acked', by: 'research', note: 'on it' }],
  error: { message: 'boom', retryable: true, tried: 'twice' },
  kind: 'question',
  extra: { any: 'thing' },
};

const VALUES: unknown[] = [
  undefined,
  null,
  0,
  1,
  2,
  1.5,
  -1,
  2 ** 60,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  true,
  false,
  '',
  ' ',
  'x',
  'Research',
  'research',
  '-bad',
  't-1',
  '../etc',
  'queued',
  'done',
  'urgent',
  'normal',
  '5m',
  '90s',
  '1d',
  '5 minutes',
  '2026-11-22T10:15:00Z',
  '2026-11-22T11:15:00+01:00',
  '2026-11-22t10:15:00z',
  '2026-11-22T10:15:00.123Z',
  '2026-13-45T99:99:99Z',
  '2026-11-22 10:15:00',
  [],
  ['x'],
  [ENTRY],
  [{ ...ENTRY, extra: 1 }],
  [{ ...ENTRY, state: 'nope' }],
  [{ ...ENTRY, by: '' }],
  [{ ...ENTRY, at: 'noon', by: '' }],
  [{ ...ENTRY, note: 5 }],
  [ENTRY, null],
  [[ENTRY]],
  {},
  { message: 'm' },
  { message: 'm', retryable: 'yes' },
  { message: 'm', tried: 3, more: [1] },
  { retryable: true },
];

/** Every task to compare: the valid one, each field deleted or set to each value, a few reorderings. */
function cases(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [VALID];
  for (const key of Object.keys(VALID)) {
    const { [key]: _, ...without } = VALID;
    out.push(without);
    for (const v of VALUES) out.push({ ...VALID, [key]: v });
  }
  // Unknown keys before, between and after known ones; defaults for every optional field.
  out.push({ zeta: 1, ...VALID, alpha: 2 });
  out.push({
    id: 't2',
    title: 'T',
    from: 'dispatch',
    to: 'research',
    state: 'queued',
    created: VALID.created,
  });
  out.push({
    state: 'queued',
    to: 'research',
    created: VALID.created,
    from: 'dispatch',
    title: 'T',
    id: 't3',
  });
  out.push({});
  // Two problems at once: the first in the schema's order is the one named.
  out.push({ ...VALID, title: '', state: 'nope', history: 'x' });
  out.push({ ...VALID, kind: 1, attempt: 0 });
  return out;
}

describe('checkTask, held to TaskSchema', () => {
  it(`agrees with the schema on ${cases().length} valid and broken tasks`, () => {
    let accepted = 0;
    for (const data of cases()) {
      const what = JSON.stringify(data, (_k, v) =>
        v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? `<${String(v)}>` : v,
      );
      const mine = checkTask(data);
      const zod = TaskSchema.safeParse(data);
      expect(mine.ok, what).toBe(zod.success);
      if (mine.ok && zod.success) {
        accepted++;
        expect(JSON.stringify(mine.task), what).toBe(JSON.stringify(zod.data));
      } else if (!mine.ok && !zod.success) {
        const issue = zod.error.issues[0]!;
        expect([mine.path, mine.message], what).toEqual([issue.path, issue.message]);
        const top = data[String(issue.path[0])];
        expect(mine.missing, what).toBe(issue.code === 'invalid_type' && top === undefined);
      }
    }
    // The cases reach both sides: many are accepted, many refused.
    expect(accepted).toBeGreaterThan(40);
    expect(cases().length - accepted).toBeGreaterThan(200);
  });

  it('returns new objects: the caller may change the task without touching the parsed data', () => {
    const mine = checkTask(VALID);
    if (!mine.ok) throw new Error(mine.message);
    expect(mine.task.history[0]).not.toBe((VALID.history as unknown[])[0]);
    expect(mine.task.error).not.toBe(VALID.error);
  });
});
