// The task state machine (docs/spec.md §3), the one place that decides which moves are legal. Every
// writer (CLI, daemon for hand edits, sync merge) asks it; it is pure.

export const STATES = ['queued', 'acked', 'running', 'done', 'failed'] as const;
export type TaskState = (typeof STATES)[number];

export const FINAL_STATES: readonly TaskState[] = ['done', 'failed'];
export const isFinal = (s: TaskState): boolean => s === 'done' || s === 'failed';

/** How far along a state is; done and failed are equally far. Used to merge and to refuse going back. */
export const RANK: Record<TaskState, number> = { queued: 0, acked: 1, running: 2, done: 3, failed: 3 };

const CHAIN: readonly TaskState[] = ['queued', 'acked', 'running', 'done'];

export type TransitionPlan = { ok: true; skipped: TaskState[] } | { ok: false; reason: string };

/**
 * May a task move from `from` to `to`? Forward moves are allowed, with the states in between on the
 * way to `running`/`done` reported as skipped (history records them). `failed` is reachable from any
 * unfinished state and skips nothing: a task can fail at any stage. `failed -> queued` is only a retry.
 */
export function planTransition(
  from: TaskState,
  to: TaskState,
  opts: { retry?: boolean } = {},
): TransitionPlan {
  if (from === 'failed' && to === 'queued') {
    return opts.retry
      ? { ok: true, skipped: [] }
      : { ok: false, reason: 'a failed task goes back to queued only by a retry' };
  }
  if (opts.retry) return { ok: false, reason: `only a failed task can be retried; this one is ${from}` };
  if (from === to) return { ok: false, reason: `the task is already ${from}` };
  if (isFinal(from))
    return { ok: false, reason: `the task is already ${from}; a finished task does not change state` };
  if (to === 'failed') return { ok: true, skipped: [] };
  if (RANK[to] < RANK[from]) return { ok: false, reason: `${from} -> ${to} moves backwards` };
  const skipped = CHAIN.slice(CHAIN.indexOf(from) + 1, CHAIN.indexOf(to));
  return { ok: true, skipped: [...skipped] };
}

/** The state further along; on a tie between done and failed, done wins (work was delivered). */
export function furthest(a: TaskState, b: TaskState): TaskState {
  if (RANK[a] !== RANK[b]) return RANK[a] > RANK[b] ? a : b;
  return a === 'done' || b === 'done' ? (a === 'done' ? a : b) : a;
}
