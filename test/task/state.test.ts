// The state machine (src/task/state.ts, docs/spec.md §3) as a from x to table: every pair of states,
// with and without retry, and what a legal move skips. Pure.

import { describe, expect, it } from 'vitest';
import { furthest, isFinal, planTransition, STATES, type TaskState } from '../../src/task/state.js';

// Row: from; columns: to in STATES order (queued, acked, running, done, failed).
// 'ok' or 'ok:<skipped,...>' is legal; anything else is a fragment of the refusal.
const TABLE: Record<TaskState, string[]> = {
  queued: ['already queued', 'ok', 'ok:acked', 'ok:acked,running', 'ok'],
  acked: ['moves backwards', 'already acked', 'ok', 'ok:running', 'ok'],
  running: ['moves backwards', 'moves backwards', 'already running', 'ok', 'ok'],
  done: [
    'does not change state',
    'does not change state',
    'does not change state',
    'already done',
    'does not change state',
  ],
  failed: [
    'only by a retry',
    'does not change state',
    'does not change state',
    'does not change state',
    'already failed',
  ],
};

const cells = STATES.flatMap((from) => STATES.map((to, i) => [from, to, TABLE[from][i]!] as const));

describe('planTransition: from x to', () => {
  it.each(cells)('%s -> %s: %s', (from, to, want) => {
    const plan = planTransition(from, to);
    if (want.startsWith('ok')) {
      expect(plan).toEqual({ ok: true, skipped: want === 'ok' ? [] : want.slice(3).split(',') });
    } else {
      expect(plan.ok).toBe(false);
      if (!plan.ok) expect(plan.reason).toContain(want);
    }
  });
});

describe('planTransition with retry', () => {
  it.each(STATES.flatMap((from) => STATES.map((to) => [from, to] as const)))('%s -> %s', (from, to) => {
    const plan = planTransition(from, to, { retry: true });
    if (from === 'failed' && to === 'queued') expect(plan).toEqual({ ok: true, skipped: [] });
    else {
      expect(plan.ok).toBe(false);
      if (!plan.ok) expect(plan.reason).toMatch(/only a failed task can be retried|already|does not change/);
    }
  });
});

describe('isFinal and furthest', () => {
  it('done and failed are final, nothing else', () => {
    expect(STATES.filter(isFinal)).toEqual(['done', 'failed']);
  });
  const pairs: [TaskState, TaskState, TaskState][] = [
    ['queued', 'acked', 'acked'],
    ['running', 'acked', 'running'],
    ['running', 'failed', 'failed'],
    ['done', 'failed', 'done'],
    ['failed', 'done', 'done'],
    ['failed', 'failed', 'failed'],
  ];
  it.each(pairs)('furthest(%s, %s) = %s', (a, b, want) => {
    expect(furthest(a, b)).toBe(want);
  });
});
