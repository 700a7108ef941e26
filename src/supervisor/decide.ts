// The supervisor's judgement (docs/spec.md §3): given the tasks as scanned and the time now, what should
// happen to each. Pure — no disk, no clock, no configuration loading; the daemon wires those in and
// applies the actions through the ordinary ops (reassign, retry, escalate), under each file's lock.
// Invariants: every time comes from the task's own fields (`created`, `history[].at`), never from file
// mtimes, so a sync or an editor touching a file never moves a deadline; at most one action per task;
// and automatic reassignment is bounded, so a task cannot circle a dead role forever.

import { parseDurationMs } from '../duration.js';
import type { Box } from '../store/layout.js';
import type { Task } from '../task/schema.js';
import {
  ackTimeoutReason,
  attemptsUsedReason,
  notRetryableReason,
  REASSIGNED,
  retryReason,
  roleExhausted,
  runTimeoutReason,
} from './reasons.js';
import { type AgentRoles, roleMates } from './roles.js';

export interface SupervisedTask {
  id: string;
  /** The agent whose folder holds the file. */
  agent: string;
  box: Box;
  task: Task;
}

export interface SupervisorPolicy {
  /** config.escalate_to */
  escalateTo: string;
  /** config.on_stuck */
  onStuck: 'escalate' | 'reassign';
  /** config.retry_backoff: the first retry delay; it doubles per attempt. */
  retryBackoffMs: number;
  /** config.retry_elsewhere */
  retryElsewhere: boolean;
  /** Configured agents (name -> role). Accepts `config.agents` as loaded, where `{}` may be `null`. */
  agents: AgentRoles;
}

export type Action =
  | {
      kind: 'reassign';
      id: string;
      from: string;
      to: string;
      reason: string;
      cause: 'ack_timeout' | 'run_timeout';
    }
  | { kind: 'retry'; id: string; to: string; reason: string }
  | { kind: 'escalate'; id: string; reason: string; cause: 'ack_timeout' | 'run_timeout' | 'failed' };

export interface Decision {
  actions: Action[];
  /** Workers presumed down (event `worker.down`), one entry per task that showed it. */
  workerDown: { agent: string; id: string }[];
  /** The earliest future moment a rule could fire for these tasks; undefined when none can. */
  nextCheckAt?: Date;
}

/** What one task calls for: an action now, a moment to look again, or nothing. */
type Verdict = { action: Action; down?: { agent: string; id: string } } | { wakeAt: number } | undefined;

export function decide(tasks: SupervisedTask[], policy: SupervisorPolicy, now: Date): Decision {
  const nowMs = now.getTime();
  const actions: Action[] = [];
  const workerDown: Decision['workerDown'] = [];
  let next: number | undefined;

  // A task seen in two live places is a duplicate left by a crash that the routing pass has not
  // resolved yet; acting on either copy now could act twice, so it waits for the next pass.
  const copies = new Map<string, number>();
  for (const t of tasks) if (t.box !== 'archive') copies.set(t.id, (copies.get(t.id) ?? 0) + 1);

  for (const t of tasks) {
    if (t.box === 'archive' || isEscalated(t.task) || (copies.get(t.id) ?? 0) > 1) continue;
    const verdict = judge(t, policy, nowMs);
    if (verdict === undefined) continue;
    if ('wakeAt' in verdict) {
      next = next === undefined ? verdict.wakeAt : Math.min(next, verdict.wakeAt);
      continue;
    }
    actions.push(verdict.action);
    if (verdict.down) workerDown.push(verdict.down);
  }
  return next === undefined ? { actions, workerDown } : { actions, workerDown, nextCheckAt: new Date(next) };
}

/** Escalation writes `escalated: <time>`; a person's retry or reassign clears it. Any truthy value counts. */
export function isEscalated(task: Task): boolean {
  return Boolean(task.escalated);
}

function judge(t: SupervisedTask, policy: SupervisorPolicy, nowMs: number): Verdict {
  switch (t.task.state) {
    case 'queued':
      return judgeQueued(t, policy, nowMs);
    case 'running':
      return judgeRunning(t, policy, nowMs);
    case 'failed':
      return judgeFailed(t, policy, nowMs);
    default:
      // `acked` has no timer in docs/spec.md §3; `done` is finished.
      return undefined;
  }
}

function judgeQueued(t: SupervisedTask, policy: SupervisorPolicy, nowMs: number): Verdict {
  const { task } = t;
  // Only a task waiting in its worker's inbox proves anything about the worker; a queued file
  // anywhere else is in transit and belongs to routing.
  if (t.box !== 'inbox' || t.agent !== task.to) return undefined;
  // The escalation agent is the end of the line (usually a person, who holds no lease).
  if (task.to === policy.escalateTo) return undefined;
  const timeout = parseDurationMs(task.ack_timeout);
  const since = lastAt(task);
  if (timeout === undefined || since === undefined) return undefined;
  const deadline = since + timeout;
  // "Longer than": exactly at the deadline is still in time; the first millisecond after is not.
  if (nowMs <= deadline) return { wakeAt: deadline + 1 };

  const reason = ackTimeoutReason(task.ack_timeout.trim(), task.to);
  const down = { agent: task.to, id: t.id };
  const target = reassignTarget(task, policy.agents);
  if ('to' in target) {
    return {
      action: { kind: 'reassign', id: t.id, from: task.to, to: target.to, reason, cause: 'ack_timeout' },
      down,
    };
  }
  return { action: { kind: 'escalate', id: t.id, reason: reason + target.why, cause: 'ack_timeout' }, down };
}

function judgeRunning(t: SupervisedTask, policy: SupervisorPolicy, nowMs: number): Verdict {
  const { task } = t;
  if (task.to === policy.escalateTo) return undefined;
  const timeout = parseDurationMs(task.run_timeout);
  // Any history entry renews the lease: progress notes are entries too.
  const since = lastAt(task);
  if (timeout === undefined || since === undefined) return undefined;
  const deadline = since + timeout;
  if (nowMs <= deadline) return { wakeAt: deadline + 1 };

  const reason = runTimeoutReason(nowMs - since, task.run_timeout.trim());
  if (policy.onStuck === 'reassign') {
    const target = reassignTarget(task, policy.agents);
    if ('to' in target) {
      return {
        action: { kind: 'reassign', id: t.id, from: task.to, to: target.to, reason, cause: 'run_timeout' },
      };
    }
    return { action: { kind: 'escalate', id: t.id, reason: reason + target.why, cause: 'run_timeout' } };
  }
  return { action: { kind: 'escalate', id: t.id, reason, cause: 'run_timeout' } };
}

function judgeFailed(t: SupervisedTask, policy: SupervisorPolicy, nowMs: number): Verdict {
  const { task } = t;
  const message = task.error?.message;
  if (task.error?.retryable !== true) {
    return { action: { kind: 'escalate', id: t.id, reason: notRetryableReason(message), cause: 'failed' } };
  }
  if (task.attempt >= task.max_attempts) {
    const reason = attemptsUsedReason(task.attempt, task.max_attempts, message);
    return { action: { kind: 'escalate', id: t.id, reason, cause: 'failed' } };
  }
  const failedAt = lastFailedAt(task);
  if (failedAt === undefined) return undefined;
  const backoffMs = policy.retryBackoffMs * 2 ** (task.attempt - 1);
  const due = failedAt + backoffMs;
  // A backoff too large for a Date means "never"; it must not become an Invalid Date wake-up.
  if (!Number.isFinite(due) || Math.abs(due) > MAX_DATE_MS) return undefined;
  if (nowMs < due) return { wakeAt: due };

  const mate = policy.retryElsewhere ? roleMates(policy.agents, task.to)[0] : undefined;
  const to = mate ?? task.to;
  const reason = retryReason(
    { attempt: task.attempt + 1, max: task.max_attempts, backoffMs, ...(mate ? { elsewhere: mate } : {}) },
    message,
  );
  return { action: { kind: 'retry', id: t.id, to, reason } };
}

const MAX_DATE_MS = 8.64e15;

/**
 * Where a stalled task may go instead of escalating. The bound against ping-pong: every
 * reassignment leaves a history note starting with "reassigned" (the reassign op writes
 * `reassigned from a to b`, the daemon `reassignNote(...)`: `reassigned from a to b: <reason>`), and once a task carries as many of those as its worker has
 * role mates, it has had its chance with each of them and goes to a person instead. Manual
 * reassignments count too: the bound is over the task's whole life, whatever the cause.
 */
function reassignTarget(task: Task, agents: AgentRoles): { to: string } | { why: string } {
  const mates = roleMates(agents, task.to);
  const first = mates[0];
  if (first === undefined) return { why: '' };
  const moves = task.history.filter((h) => h.note?.startsWith(REASSIGNED)).length;
  if (moves >= mates.length) return { why: roleExhausted(moves, agents[task.to]?.role ?? '') };
  return { to: first };
}

/** When the task last changed: its last history entry, else its creation. */
function lastAt(task: Task): number | undefined {
  const last = task.history[task.history.length - 1];
  return parseTime(last?.at ?? task.created);
}

/** When the task failed: its last `failed` entry; a hand-written file may lack one. */
function lastFailedAt(task: Task): number | undefined {
  const failed = task.history.findLast((h) => h.state === 'failed');
  return failed === undefined ? lastAt(task) : parseTime(failed.at);
}

function parseTime(iso: string): number | undefined {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}
