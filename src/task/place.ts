// Where a task belongs (docs/spec.md §2, §3): the one rule behind a finish's move to the outbox
// (ops/lifecycle.ts), the daemon's routing (daemon/judge.ts) and which of two identical copies is
// kept (store/heal.ts, and sync's ranks). Pure: a task's fields and a place in, a place out.
//
//   queued..running   stays where it is (supervision and people move it, not routing)
//   finished, in the inbox of its worker (`to`)            -> the worker's outbox
//   finished by the person it was escalated to, in their inbox -> that person's outbox
//   done, in an outbox                                     -> the sender's (`from`) inbox
//   failed by the person it was escalated to, in an outbox -> the sender's inbox
//   finished, in its sender's inbox, or archived           -> home: stays
// A failed task a worker finished stays in the outbox: the supervisor retries or escalates it there.

import type { Task } from './schema.js';
import { isFinal, type TaskState } from './state.js';

/** The boxes of an agent folder (the same names as store/layout.ts's `Box`). */
export type PlaceBox = 'inbox' | 'outbox' | 'archive';

export interface Place {
  agent: string;
  box: PlaceBox;
}

type Placed = Pick<Task, 'state' | 'from' | 'to' | 'history'> & { escalated?: unknown };

/** The note an escalation writes into history (ops/lifecycle.ts#escalate). */
export const escalationNote = (to: string, reason: string): string => `escalated to ${to}: ${reason}`;
const ESCALATION = /^escalated to /;

/** The state the task was in when it was last escalated, from its history; undefined if never. */
function stateAtEscalation(task: Placed): TaskState | undefined {
  for (let i = task.history.length - 1; i >= 0; i--) {
    const h = task.history[i]!;
    if (h.note !== undefined && ESCALATION.test(h.note)) return h.state;
  }
  return undefined;
}

/**
 * Finished by the person it was escalated to: escalated while unfinished, and finished now. A task
 * escalated because it had failed is not: it stays with the person until they retry, reassign or
 * archive it (a failed task cannot be made done).
 */
export function finishedByPerson(task: Placed): boolean {
  if (!task.escalated || !isFinal(task.state)) return false;
  const before = stateAtEscalation(task);
  return before !== undefined && !isFinal(before);
}

/**
 * Where a task found at `here` goes next, or undefined when it stays. `escalateTo` is the
 * configured escalation agent (mailroom.yaml `escalate_to`).
 */
export function nextPlace(task: Placed, here: Place, escalateTo: string): Place | undefined {
  if (!isFinal(task.state) || here.box === 'archive') return undefined;
  if (here.box === 'inbox') {
    if (here.agent === task.from) return undefined; // home
    if (here.agent === task.to) return { agent: here.agent, box: 'outbox' };
    if (here.agent === escalateTo && finishedByPerson(task)) return { agent: here.agent, box: 'outbox' };
    return undefined;
  }
  if (task.state === 'done' || finishedByPerson(task)) return { agent: task.from, box: 'inbox' };
  return undefined;
}

/** Where a task finished with the CLI moves: from the inbox that holds it to that agent's outbox. */
export function placeOnFinish(here: Place): Place | undefined {
  return here.box === 'inbox' ? { agent: here.agent, box: 'outbox' } : undefined;
}

/**
 * Rank of a place for a task: the highest-ranked place among identical copies is where it belongs
 * (heal, sync). Finished: inbox(to) -> outbox -> inbox(from) -> archive. The values are stored in
 * sync state: change them only with a migration.
 */
export function placeRank(task: Pick<Task, 'state' | 'from' | 'to'>, agent: string, box: PlaceBox): number {
  if (!isFinal(task.state)) return box === 'inbox' && agent === task.to ? 3 : box === 'inbox' ? 2 : 1;
  if (box === 'archive') return 4;
  if (box === 'inbox' && agent === task.from && task.from !== task.to) return 3;
  if (box === 'outbox') return 2;
  return 1;
}
