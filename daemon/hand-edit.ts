// Judges a state change the daemon did not make (a person's editor, an agent's plain file edit)
// against the last state it saw, with the same rules the CLI enforces (docs/spec.md §3). Pure.

import type { Task } from '../src/task/schema.js';
import { isFinal, RANK, type TaskState } from '../src/task/state.js';

export interface KnownState {
  state: TaskState;
  attempt: number;
  to: string;
}

export function knownStateOf(task: Task): KnownState {
  return { state: task.state, attempt: task.attempt, to: task.to };
}

/** Undefined when the change is legal; otherwise the reason, for the report beside the file. */
export function illegalChange(prev: KnownState | undefined, next: Task): string | undefined {
  if (!prev || prev.state === next.state) return undefined;
  // A retry (attempt + 1) or a reassign (new worker) starts the task over from queued; whatever the
  // new attempt reached before this scan (running, done, ...) is then a forward move.
  if (next.attempt > prev.attempt || next.to !== prev.to) return undefined;
  const forward = RANK[next.state] > RANK[prev.state] && !isFinal(prev.state);
  const toFailed = next.state === 'failed' && !isFinal(prev.state);
  if (forward || toFailed) return undefined;
  const fix =
    prev.state === 'failed' ? 'to run it again use `mailroom retry`' : `set state back to ${prev.state}`;
  return `state changed from ${prev.state} to ${next.state} by an edit, which the state machine forbids; ${fix}`;
}
