// The verbs that move a task through its life: ack, start, progress, done, fail, retry, reassign,
// archive. Each is a decision over the task as read under its lock (src/store/tasks.ts): the state
// machine says whether the move is legal, the edit touches only what changes.

import { refused, usageError } from '../errors.js';
import { type Mailroom, requireAgent } from '../mailroom.js';
import type { LoadedTask, TaskRef } from '../store/scan.js';
import { type Mutation, type UpdateResult, updateTask } from '../store/tasks.js';
import { REASSIGNED } from '../supervisor/reasons.js';
import { applyTaskEdit, type TaskEdit } from '../task/edit.js';
import { isoSeconds } from '../task/id.js';
import { escalationNote, placeOnFinish } from '../task/place.js';
import type { HistoryEntry, TaskError } from '../task/schema.js';
import { isFinal, planTransition, type TaskState } from '../task/state.js';

export interface Actor {
  /** Who acts (`--as`, `$MAILROOM_AGENT`); when absent, the worker for worker verbs, `human` otherwise. */
  as?: string;
  /** mailroom itself acting (the daemon's supervisor): recorded as given, not checked as an agent. */
  system?: string;
  /**
   * Checked on the task as read under its lock; when false the change is refused. The supervisor
   * decides on a scan, and a worker may have acted since: this is where that race is closed.
   */
  onlyIf?: (task: LoadedTask) => boolean;
}

function checkPrecondition(input: Actor, task: LoadedTask): void {
  if (input.onlyIf && !input.onlyIf(task))
    throw refused(`task ${task.id} changed since it was looked at; nothing done`);
}

/** The name recorded in history as `by`. */
const SYSTEM_ACTOR = 'mailroom';

function actor(mr: Mailroom, who: Actor | string | undefined, fallback: string): string {
  const input = typeof who === 'string' || who === undefined ? { as: who } : who;
  if (input.system !== undefined) return input.system;
  return input.as === undefined ? fallback : requireAgent(mr, input.as);
}

/**
 * Who does a worker verb (ack, start, progress, done, fail, answer), checked against the task as read
 * under its lock: the task's `to`, or the escalation agent (`escalate_to`) for a task escalated into
 * its inbox. Without `--as`, an escalated task is finished by that person, and recorded as them.
 * Anyone else is refused (exit 3): after a reassign, the old worker is told where the task went.
 */
export function workerActor(mr: Mailroom, input: Actor, task: LoadedTask): string {
  if (input.system !== undefined) return input.system;
  const t = task.parsed.task;
  const escalatedHere = task.agent === mr.config.escalate_to && task.box === 'inbox';
  if (input.as === undefined) return escalatedHere ? mr.config.escalate_to : t.to;
  const as = requireAgent(mr, input.as);
  if (as === t.to || (escalatedHere && as === mr.config.escalate_to)) return as;
  const wasTheirs = t.history.some((h) => h.note?.startsWith(REASSIGNED) && h.note.includes(as));
  throw refused(
    wasTheirs
      ? `task ${task.id} was reassigned to ${t.to}; ${as} must not work on it any more`
      : `task ${task.id} is addressed to ${t.to}, not to ${as}`,
    wasTheirs ? `leave it; \`mailroom next --as ${as}\` takes your next task` : 'act as its worker (--as)',
  );
}

function edit(task: LoadedTask, e: TaskEdit, moveTo?: Mutation['moveTo']): Mutation {
  const text = applyTaskEdit(task.parsed.file, e);
  return moveTo ? { text, moveTo } : { text };
}

function refuseUnless(task: LoadedTask, to: TaskState, opts: { retry?: boolean } = {}) {
  const plan = planTransition(task.parsed.task.state, to, opts);
  if (!plan.ok) throw refused(`cannot ${verbFor(to, opts.retry)} task ${task.id}: ${plan.reason}`);
  return plan.skipped;
}

function verbFor(to: TaskState, retry?: boolean): string {
  if (retry) return 'retry';
  return { queued: 'queue', acked: 'ack', running: 'start', done: 'finish', failed: 'fail' }[to];
}

export interface TransitionInput extends Actor {
  note?: string;
  result?: string;
  error?: TaskError;
}

/** ack / start / done / fail: a forward move by the worker, with skipped states recorded. */
export async function transition(
  mr: Mailroom,
  ref: string | TaskRef,
  to: TaskState,
  input: TransitionInput = {},
): Promise<UpdateResult> {
  const result = await updateTask(mr, ref, (task) => {
    const by = workerActor(mr, input, task);
    checkPrecondition(input, task);
    const skipped = refuseUnless(task, to);
    const at = isoSeconds(mr.now());
    const history: HistoryEntry[] = skipped.map((state) => ({ state, at, by, note: 'skipped' }));
    history.push(input.note === undefined ? { state: to, at, by } : { state: to, at, by, note: input.note });
    const e: TaskEdit = { set: { state: to }, history };
    if (to === 'failed') e.error = input.error ?? { message: 'failed' };
    if (to === 'done' && input.result !== undefined) e.result = input.result;
    // A finished task leaves the worker's inbox for its outbox, where routing picks it up.
    const moveTo = isFinal(to) ? placeOnFinish(task) : undefined;
    return edit(task, e, moveTo);
  });
  await logTransition(mr, result);
  return result;
}

/** A progress note on a running task, by its worker (workerActor); it renews the running lease. */
export async function progress(
  mr: Mailroom,
  ref: string,
  note: string,
  input: Actor = {},
): Promise<UpdateResult> {
  if (!note.trim())
    throw usageError('the progress note is empty', 'say what has been done, e.g. "page 42/100"');
  return appendNote(mr, ref, note, 'task.progress', (task) => {
    const by = workerActor(mr, input, task);
    const state = task.parsed.task.state;
    if (state !== 'running') {
      throw refused(
        `cannot add progress to task ${task.id}: it is ${state}, not running`,
        `start it first: mailroom start ${task.id}`,
      );
    }
    return by;
  });
}

/**
 * A note from a person on a task in any state (the board's "add a note"): one history entry in the
 * task's present state. Like any history entry it renews the task's ack or run lease.
 */
export async function addNote(
  mr: Mailroom,
  ref: string,
  note: string,
  input: Actor = {},
): Promise<UpdateResult> {
  if (!note.trim())
    throw usageError('the note is empty', 'write what the agent or the next person should know');
  if (/[\r\n]/.test(note)) throw usageError('a note is one line', 'put longer text in the task body');
  return appendNote(mr, ref, note, 'task.note', () => actor(mr, input, 'human'));
}

/**
 * One history entry with `note` in the task's present state, by whom `by` names for the task as read
 * under its lock (it throws to refuse), logged as `type`.
 */
async function appendNote(
  mr: Mailroom,
  ref: string,
  note: string,
  type: 'task.progress' | 'task.note',
  by: (task: LoadedTask) => string,
): Promise<UpdateResult> {
  const result = await updateTask(mr, ref, (task) => {
    const who = by(task);
    return edit(task, {
      history: [{ state: task.parsed.task.state, at: isoSeconds(mr.now()), by: who, note }],
    });
  });
  await mr.log({ type, id: result.after.id, agent: result.after.agent, by: lastBy(result), note });
  return result;
}

/** failed -> queued, attempt + 1, optionally to another agent. */
export async function retry(
  mr: Mailroom,
  ref: string,
  input: Actor & { to?: string; note?: string } = {},
): Promise<UpdateResult> {
  if (input.to !== undefined) requireAgent(mr, input.to);
  const result = await updateTask(mr, ref, (task) => {
    const t = task.parsed.task;
    checkPrecondition(input, task);
    refuseUnless(task, 'queued', { retry: true });
    const by = actor(mr, input, 'human');
    const to = input.to ?? t.to;
    const attempt = t.attempt + 1;
    const why = t.error?.message ? ` after: ${t.error.message}` : '';
    const note =
      input.note ?? `retry, attempt ${attempt} of ${t.max_attempts}${to !== t.to ? ` on ${to}` : ''}${why}`;
    const set: Record<string, string | number> = { state: 'queued', attempt };
    if (to !== t.to) set.to = to;
    return edit(
      task,
      {
        set,
        unset: ['escalated'],
        error: null,
        history: [{ state: 'queued', at: isoSeconds(mr.now()), by, note }],
      },
      { agent: to, box: 'inbox' },
    );
  });
  await logTransition(mr, result);
  return result;
}

/** Move an unfinished task to another agent; it starts over as queued there. */
export async function reassign(
  mr: Mailroom,
  ref: string,
  agent: string,
  input: Actor & { note?: string } = {},
): Promise<UpdateResult> {
  requireAgent(mr, agent);
  const result = await updateTask(mr, ref, (task) => {
    const t = task.parsed.task;
    checkPrecondition(input, task);
    if (isFinal(t.state))
      throw refused(
        `cannot reassign task ${task.id}: it is ${t.state}`,
        `a failed task is sent again with: mailroom retry ${task.id} --to ${agent}`,
      );
    // Sending an escalated task back to its own worker is allowed: it sits in the escalation inbox.
    if (t.to === agent && task.agent === agent)
      throw refused(`task ${task.id} is already assigned to ${agent}`);
    const by = actor(mr, input, 'human');
    const note = input.note ?? `reassigned from ${t.to} to ${agent}`;
    return edit(
      task,
      {
        set: { state: 'queued', to: agent },
        unset: ['escalated'],
        history: [{ state: 'queued', at: isoSeconds(mr.now()), by, note }],
      },
      { agent, box: 'inbox' },
    );
  });
  await logTransition(mr, result, { type: 'task.reassigned' });
  return result;
}

/** File a finished task away into the archive of the agent whose box holds it. */
export async function archive(mr: Mailroom, ref: string, input: Actor = {}): Promise<UpdateResult> {
  // The actor is checked before anything moves: an unknown `--as` must leave the task where it is.
  const by = actor(mr, input, 'human');
  const result = await updateTask(mr, ref, (task) => {
    const t = task.parsed.task;
    if (!isFinal(t.state))
      throw refused(
        `cannot archive task ${task.id}: it is ${t.state}`,
        'only done or failed tasks are archived',
      );
    if (task.box === 'archive') throw refused(`task ${task.id} is already archived`);
    return { text: task.text, moveTo: { agent: task.agent, box: 'archive' } };
  });
  await mr.log({
    type: 'task.archived',
    id: result.after.id,
    agent: result.after.agent,
    by,
    path: mr.layout.rel(result.after.path),
  });
  return result;
}

function lastBy(r: UpdateResult): string | undefined {
  const h = r.after.parsed.task.history;
  return h[h.length - 1]?.by;
}

async function logTransition(
  mr: Mailroom,
  r: UpdateResult,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const last = r.after.parsed.task.history[r.after.parsed.task.history.length - 1];
  await mr.log({
    type: 'task.transition',
    id: r.after.id,
    agent: r.after.agent,
    from: r.before.parsed.task.state,
    to: r.after.parsed.task.state,
    by: lastBy(r),
    path: mr.layout.rel(r.after.path),
    ...(last?.note === undefined ? {} : { note: last.note }),
    ...extra,
  });
}

/**
 * Hand a task to a person (`escalate_to`): it moves to that agent's inbox with its state unchanged,
 * marked `escalated: <time>` so the supervisor leaves it alone until someone retries or reassigns it.
 */
export async function escalate(
  mr: Mailroom,
  ref: string,
  reason: string,
  input: Actor = {},
): Promise<UpdateResult> {
  const to = mr.config.escalate_to;
  const result = await updateTask(mr, ref, (task) => {
    const t = task.parsed.task;
    checkPrecondition(input, task);
    const at = isoSeconds(mr.now());
    const e = edit(task, {
      set: { escalated: at },
      history: [{ state: t.state, at, by: SYSTEM_ACTOR, note: escalationNote(to, reason) }],
    });
    return task.agent === to && task.box === 'inbox' ? e : { ...e, moveTo: { agent: to, box: 'inbox' } };
  });
  await mr.log({
    type: 'task.escalated',
    id: result.after.id,
    agent: to,
    by: SYSTEM_ACTOR,
    reason,
    path: mr.layout.rel(result.after.path),
  });
  return result;
}

export { SYSTEM_ACTOR };
