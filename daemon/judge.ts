// The pass's second stage, pure: one file found in a box (its bytes or its cached parse, whether it
// has settled), the last state seen of its task and how many files carry its id, in; what to do
// with it, out. No clock, no disk: the caller passes `now` and the id source.
//
//   not UTF-8 / NUL bytes, settled          -> report
//   not a task, in an inbox, completable    -> complete (once settled); empty -> wait
//   not a task otherwise, settled           -> report (the parse error and its line, or the name)
//   a task whose state moved illegally      -> illegal (report, do not act)
//   a task                                  -> task: remember its state; heal if it has copies;
//                                              look in the archive if it came home finished;
//                                              route along task/place.ts's places; else supervise
//   queued in its sender's outbox, for an agent  -> deliver into that agent's inbox (sent from
//     living on this machine                        another machine, docs/spec.md §6)
//   anything not settled yet                -> wait

import { isTaskId } from '../src/names.js';
import { decodeTaskBytes, parseTask } from '../src/task/parse.js';
import { nextPlace, type Place } from '../src/task/place.js';
import type { Task } from '../src/task/schema.js';
import { isFinal } from '../src/task/state.js';
import { completeDroppedFile } from './complete.js';
import { illegalChange, type KnownState } from './hand-edit.js';

export interface Found {
  agent: string;
  box: Place['box'];
  /** The file name without `.md`. */
  name: string;
  settled: boolean;
  /** The file's bytes, or its task from the parse cache (unchanged since it was judged). */
  read: { bytes: Uint8Array } | { cached: Task };
}

export interface Context {
  /** The last legal state seen of this task id (hand-edit.ts). */
  known: (id: string) => KnownState | undefined;
  /** How many files in the watched boxes carry this name. */
  copies: (name: string) => number;
  /** Is this a configured agent? */
  isAgent: (name: string) => boolean;
  /** Does this agent live on this machine (config/where.ts)? */
  livesHere: (name: string) => boolean;
  /** Where an agent's folders are worked, for a delivery note: `host/agent`, or the agent alone. */
  placeOf: (agent: string) => string;
  escalateTo: string;
  now: Date;
  newId: () => string;
}

export type Judgement =
  | { kind: 'wait' }
  | { kind: 'report'; reason: string; line?: number }
  | { kind: 'illegal'; reason: string }
  | { kind: 'complete'; id: string; text: string }
  | TaskJudgement;

export interface TaskJudgement {
  kind: 'task';
  task: Task;
  /** Newly parsed (not from the cache): worth caching, and worth the archive look. */
  fresh: boolean;
  /** Other files carry this id: fold identical copies first (store/heal.ts). */
  heal: boolean;
  /** A finished task home in its sender's inbox: is it also in the sender's archive? */
  checkArchive: boolean;
  /** The moves to make, in order (each one a route step); empty when it stays. */
  route: Place[];
  /** Why it cannot go where it belongs. */
  problem?: string;
  /** A delivery from another machine: the history note the move writes ("delivered from vps/research"). */
  deliver?: string;
}

const BAD_NAME = 'file name is not a valid task id (letters, digits, . _ - only)';

export function judge(f: Found, ctx: Context): Judgement {
  if ('cached' in f.read) return judgeTask(f, f.read.cached, false, ctx);
  const decoded = decodeTaskBytes(f.read.bytes);
  if (!decoded.ok) return f.settled ? { kind: 'report', reason: decoded.problem.reason } : { kind: 'wait' };
  const parsed = isTaskId(f.name) ? parseTask(decoded.text, f.name) : undefined;
  if (parsed?.ok) return judgeTask(f, parsed.value.task, true, ctx);
  if (f.box === 'inbox') {
    const drop = completeDroppedFile({
      text: decoded.text,
      name: f.name,
      agent: f.agent,
      now: ctx.now,
      isIdFree: (id) => ctx.copies(id) === 0 || (id === f.name && ctx.copies(id) === 1),
      newId: ctx.newId,
    });
    if (drop.kind === 'empty') return { kind: 'wait' }; // nothing yet; an editor may be about to write
    if (drop.kind === 'completed')
      return f.settled ? { kind: 'complete', id: drop.id, text: drop.text } : { kind: 'wait' };
  }
  if (!f.settled) return { kind: 'wait' };
  const why = parsed?.problem ?? { reason: BAD_NAME };
  return why.line === undefined
    ? { kind: 'report', reason: why.reason }
    : { kind: 'report', reason: why.reason, line: why.line };
}

/**
 * A task sent to an agent of another machine waits queued in its sender's outbox (ops/send.ts); on
 * the recipient's machine it goes into the recipient's inbox.
 */
function isDelivery(f: Found, task: Task, ctx: Context): boolean {
  return (
    f.box === 'outbox' &&
    task.state === 'queued' &&
    f.agent === task.from &&
    task.to !== task.from &&
    ctx.livesHere(task.to)
  );
}

function judgeTask(f: Found, task: Task, fresh: boolean, ctx: Context): Judgement {
  const bad = illegalChange(ctx.known(task.id), task);
  if (bad) return { kind: 'illegal', reason: bad };
  if (isDelivery(f, task, ctx))
    return {
      kind: 'task',
      task,
      fresh,
      heal: ctx.copies(f.name) > 1,
      checkArchive: false,
      route: [{ agent: task.to, box: 'inbox' }],
      deliver: `delivered from ${ctx.placeOf(f.agent)}`,
    };
  const home = f.box === 'inbox' && f.agent === task.from && isFinal(task.state);
  const route: Place[] = [];
  let problem: string | undefined;
  let here: Place = { agent: f.agent, box: f.box };
  for (let next = nextPlace(task, here, ctx.escalateTo); next; next = nextPlace(task, here, ctx.escalateTo)) {
    if (!ctx.isAgent(next.agent)) {
      problem = `cannot route: sender "${next.agent}" is not a configured agent`;
      break;
    }
    route.push(next);
    here = next;
    if (route.length > 3) break; // places only move forward; a guard, not a case
  }
  return {
    kind: 'task',
    task,
    fresh,
    heal: ctx.copies(f.name) > 1,
    // Once per version of the file: an unchanged, cached file was checked already.
    checkArchive: fresh && home,
    route,
    ...(problem === undefined ? {} : { problem }),
  };
}
