// The pass's third stage: carry out a judgement. Task files are written only through ops/ (route,
// complete) and store/ (heal); what is written here is the daemon's own memory and its reports.

import { lstat } from 'node:fs/promises';
import { limitsOf } from '../src/config/limits.js';
import type { Mailroom } from '../src/mailroom.js';
import { completeDrop } from '../src/ops/complete.js';
import { type RouteEvent, routeTask } from '../src/ops/route.js';
import type { Problem } from '../src/problem.js';
import { healInterruptedMove } from '../src/store/heal.js';
import { readRegularFile } from '../src/store/read-file.js';
import type { TaskRef } from '../src/store/scan.js';
import { cacheable } from '../src/store/stamp.js';
import { TaskExistsError } from '../src/store/tasks.js';
import type { Place } from '../src/task/place.js';
import type { Task } from '../src/task/schema.js';
import type { TaskState } from '../src/task/state.js';
import { knownStateOf } from './hand-edit.js';
import type { Judgement, TaskJudgement } from './judge.js';
import type { PassOutcome, PassState } from './pass.js';
import { type Entry, entryHash } from './scan.js';

/** A task as the pass saw it, for the supervisor. */
export interface SeenTask extends TaskRef {
  task: Task;
}

export interface ActContext {
  mr: Mailroom;
  state: PassState;
  /** id -> the files listed with that name this pass. */
  copies: Map<string, Entry[]>;
  out: PassOutcome;
}

export async function act(c: ActContext, e: Entry, j: Judgement): Promise<void> {
  const { mr, state, out } = c;
  switch (j.kind) {
    case 'wait':
      return;
    case 'report':
      await state.reports.report(e.path, e.bytes, j.reason, j.line);
      return;
    case 'illegal': {
      // A report is keyed by the file's bytes; a cached entry carries none, so read them.
      state.parsed?.delete(e.path);
      const bytes = e.cached
        ? await readRegularFile(e.path, { maxBytes: limitsOf(mr.config).taskFile }).catch(() => e.bytes)
        : e.bytes;
      await state.reports.report(e.path, bytes, j.reason);
      return;
    }
    case 'complete':
      if (
        await completeDrop(mr, { agent: e.agent, path: e.path, name: e.id, bytes: e.bytes }, j.id, j.text)
      ) {
        await state.reports.clear(e.path, 'fixed');
        out.completed++;
      }
      return;
    case 'task':
      return actOnTask(c, e, j);
  }
}

async function actOnTask(c: ActContext, e: Entry, j: TaskJudgement): Promise<void> {
  const { mr, state, out } = c;
  const hash = entryHash(e);
  // Cache the parse unless the file changed within RACY_MS of the read (see scan.ts).
  if (j.fresh && e.stamp && e.readAt !== undefined && cacheable(e.stamp, e.readAt))
    state.parsed?.set(e.path, { ...e.stamp, task: detached(j.task), hash });
  rememberState(state, j.task);
  await state.reports.clear(e.path, 'fixed');
  if (j.heal) {
    // Two names for one task: a move cut short by a crash (same file) is completed; two different
    // files are reported and left for a person (or the sync merge) rather than guessed at.
    const copies = c.copies.get(e.id)!;
    const keep = await healInterruptedMove(mr, copies);
    if (!keep)
      out.problems.push({
        path: mr.layout.rel(e.path),
        reason: `task ${e.id} exists in ${copies.length} places with different content`,
      });
    else if (keep.path !== e.path) return;
  }
  if (j.checkArchive && (await foldedIntoArchive(mr, e, out))) return;
  let at: TaskRef = e;
  for (const to of j.route) {
    const type: RouteEvent = to.box === 'outbox' ? 'task.moved' : 'task.routed';
    if (!(await moveOrHold(c, at, j.task.state, hash, to, type, j.deliver))) return;
    if (type === 'task.moved') out.moved++;
    else out.routed++;
    at = { ...to, id: e.id, path: mr.layout.taskPath(to.agent, to.box, e.id) };
  }
  if (j.problem) out.problems.push({ path: mr.layout.rel(at.path), reason: j.problem });
  if (j.route.length === 0)
    out.tasks.push({ agent: e.agent, box: e.box, id: e.id, path: e.path, task: j.task });
}

/** The task's state is its last legal one (hand-edit.ts); counted when it changed. */
export function rememberState(state: PassState, task: Task): void {
  const prev = state.known.get(task.id);
  if (prev && prev.state === task.state && prev.attempt === task.attempt && prev.to === task.to) return;
  state.known.set(task.id, knownStateOf(task));
  state.knownVersion = (state.knownVersion ?? 0) + 1;
}

/**
 * A copy of the task that holds no part of the file's text. The parser's strings are slices of the
 * whole text, so a cached task would keep every file's text alive (half of an idle daemon's heap at
 * 10,000 tasks); JSON makes fresh strings. A task is plain JSON data (YAML's core schema).
 */
const detached = (task: Task): Task => JSON.parse(JSON.stringify(task)) as Task;

/**
 * A finished task home in its sender's inbox while the sender has already archived it: a copy a
 * sync brought back (D2's pull-back, after the archive). The archive is not scanned by the pass, so
 * look there by name; the same bytes are folded like an interrupted move, different ones are
 * reported. True when this copy was folded away.
 */
async function foldedIntoArchive(mr: Mailroom, e: Entry, out: PassOutcome): Promise<boolean> {
  const archived = mr.layout.taskPath(e.agent, 'archive', e.id);
  const there = await lstat(archived).then(
    () => true,
    () => false,
  );
  if (!there) return false;
  const keep = await healInterruptedMove(mr, [
    { agent: e.agent, box: 'archive', id: e.id, path: archived },
    e,
  ]);
  if (keep?.path === archived) return true;
  if (!keep)
    out.problems.push({
      path: mr.layout.rel(e.path),
      reason: `task ${e.id} is also in ${mr.layout.rel(archived)}, with different content`,
    });
  return false;
}

/**
 * Route a task, unless its destination holds another copy: then the task stays, the duplicate is
 * logged once (`task.unroutable`) and is a problem of every pass, and the move is not tried again
 * until the task's content changes or the destination is freed. Returns whether it moved.
 */
async function moveOrHold(
  c: ActContext,
  t: TaskRef,
  judged: TaskState,
  hash: string,
  to: Place,
  type: RouteEvent,
  note?: string,
): Promise<boolean> {
  const { mr, state, out } = c;
  state.unroutable ??= new Map();
  const held = state.unroutable;
  const blocked = held.get(t.path);
  const problem = (dest: string): Problem => ({
    path: mr.layout.rel(t.path),
    reason: `cannot move task ${t.id}: ${mr.layout.rel(dest)} already exists (two copies; compare them and remove the stale one)`,
  });
  const destThere = (dest: string) =>
    lstat(dest).then(
      () => true,
      () => false,
    );
  if (blocked?.hash === hash && (await destThere(blocked.dest))) {
    out.problems.push(problem(blocked.dest));
    return false;
  }
  try {
    await routeTask(mr, t, judged, to, type, note);
    held.delete(t.path);
    return true;
  } catch (err) {
    if (!(err instanceof TaskExistsError)) throw err;
    held.set(t.path, { hash, dest: err.path });
    out.problems.push(problem(err.path));
    if (blocked?.hash !== hash || blocked.dest !== err.path)
      await mr.log({ type: 'task.unroutable', id: t.id, path: mr.layout.rel(t.path), reason: err.message });
    return false;
  }
}
