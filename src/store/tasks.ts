// The task store. Invariants:
// - every change to a task file is a locked read-modify-write: read under the file's lock, compute,
//   re-check the lock, write atomically;
// - a task is in exactly one box at every moment, or (only after a crash between link and unlink)
//   in two places with the same content, never in zero;
// - a file that does not parse is never rewritten: the change is refused, naming the file and reason.

import { lstatSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoCode, MailroomError, notFound, refused, usageError } from '../errors.js';
import { isTaskId } from '../names.js';
import { parseTask } from '../task/parse.js';
import { moveDirIfPresent, moveNoClobber, TargetExistsError, writeFileAtomic } from './atomic.js';
import { ensureFolder } from './folders.js';
import { healInterruptedMove } from './heal.js';
import type { Box, Layout } from './layout.js';
import { type Locker, withLocks } from './lock.js';
import { findExact, type LoadedTask, readTask, scanRefs, type TaskRef } from './scan.js';
import { type FileStamp, stampOf } from './stamp.js';

export interface StoreContext {
  layout: Layout;
  locker: Locker;
}

/**
 * Find the one task an id names: the whole id, else a unique prefix (as git does with hashes), else
 * any unique part of it, such as the random suffix (ids sent in one second share their first 16
 * characters). More than one match lists them.
 */
export async function resolveTask(ctx: StoreContext, ref: string): Promise<TaskRef> {
  if (!isTaskId(ref)) {
    throw usageError(
      `invalid task id ${JSON.stringify(ref)}`,
      'give a task id or a unique part of one, e.g. its last 4 characters (letters, digits, . _ -)',
    );
  }
  let matches = await findExact(ctx.layout, ref);
  if (matches.length === 0) {
    const { refs } = await scanRefs(ctx.layout);
    matches = refs.filter((r) => r.id.startsWith(ref));
    if (matches.length === 0) matches = refs.filter((r) => r.id.includes(ref));
  }
  const ids = [...new Set(matches.map((r) => r.id))].sort();
  if (ids.length === 0)
    throw notFound(`no task ${ref}`, '`mailroom ls` lists tasks; archived ones with --box archive');
  if (ids.length > 1) {
    const where = (id: string) => ctx.layout.rel(dirname(matches.find((m) => m.id === id)!.path));
    const shown = ids.slice(0, 8).map((id) => `${id} (${where(id)})`);
    throw usageError(
      `task id "${ref}" is ambiguous: it matches ${ids.length} tasks: ${shown.join(', ')}${ids.length > 8 ? ', ...' : ''}`,
      'give more of the id',
    );
  }
  if (matches.length > 1) {
    const healed = await healInterruptedMove(ctx, matches);
    if (healed) return healed;
    throw refused(
      `task ${ids[0]} exists in ${matches.length} places: ${matches.map((m) => ctx.layout.rel(m.path)).join(', ')}`,
      'a crash or a sync left two different versions (identical copies are folded by themselves); compare them and remove the stale one by hand',
    );
  }
  return matches[0]!;
}

/** Read a task for display; a problem with the file becomes an error naming it. */
export async function loadTask(ctx: StoreContext, ref: string): Promise<LoadedTask> {
  const found = await resolveTask(ctx, ref);
  const r = await readTask(found);
  if (r.ok) return r.task;
  if ('missing' in r)
    throw notFound(`task ${found.id} disappeared while being read`, 'run the command again');
  throw unreadable(ctx, r.problem.path, r.problem.reason, r.problem.line);
}

function unreadable(ctx: StoreContext, path: string, reason: string, line?: number): MailroomError {
  return usageError(
    `${ctx.layout.rel(path)}${line ? `:${line}` : ''}: ${reason}`,
    'the file was left as it is; fix it by hand (`mailroom doctor` lists all unreadable files)',
  );
}

export interface Mutation {
  /** The new file text; equal to the old text means no write. */
  text: string;
  /** Move the task to another box (and agent) after writing. */
  moveTo?: { agent: string; box: Box };
}

export interface UpdateResult {
  before: LoadedTask;
  after: LoadedTask;
  /** The written file's stamp, taken under the lock right after the write (src/ops/list-cache.ts). */
  afterStamp?: FileStamp;
}

/**
 * Locked read-modify-write of one task. `mutate` sees the task as it is under the lock and may throw
 * (a refused transition, say): then nothing is written. If the file moved between finding and
 * locking it (another process finished it), the lookup is redone.
 */
export async function updateTask(
  ctx: StoreContext,
  ref: string | TaskRef,
  mutate: (current: LoadedTask) => Mutation,
): Promise<UpdateResult> {
  const id = typeof ref === 'string' ? ref : ref.id;
  for (let attempt = 0; attempt < 20; attempt++) {
    // A caller that already knows where the task is (the daemon's scan) saves the lookup once.
    const found = attempt === 0 && typeof ref !== 'string' ? ref : await resolveTask(ctx, id);
    const outcome = await ctx.locker(found.path, async (guard) => {
      const r = await readTask(found);
      if (!r.ok) {
        if ('missing' in r) return undefined; // moved meanwhile: look it up again
        throw unreadable(ctx, r.problem.path, r.problem.reason, r.problem.line);
      }
      const before = r.task;
      const change = mutate(before);
      const check = parseTask(change.text, before.id);
      if (!check.ok) {
        // A bug in mailroom, not in the file: refuse loudly rather than write a broken task.
        throw new Error(
          `internal error: the edit would make ${before.path} unreadable (${check.problem.reason})`,
        );
      }
      const dest = change.moveTo
        ? ctx.layout.taskPath(change.moveTo.agent, change.moveTo.box, before.id)
        : before.path;
      const commit = async () => {
        guard.assertHeld();
        if (change.text !== before.text) await writeFileAtomic(before.path, change.text);
        if (dest !== before.path) await moveTaskFiles(ctx, before, change.moveTo!);
      };
      if (dest === before.path) await commit();
      else {
        // The destination box may not exist yet (a far agent's boxes on the hub, say): its lock
        // lives in it. Created as a real folder, never through a link.
        await ensureFolder(ctx.layout, dirname(dest));
        await withLocks(ctx.locker, [dest], async () => commit());
      }
      const after: LoadedTask = {
        agent: change.moveTo?.agent ?? before.agent,
        box: change.moveTo?.box ?? before.box,
        id: before.id,
        path: dest,
        text: change.text,
        parsed: check.value,
      };
      // Under the lock: nobody else has written the file since (mailroom writers hold the lock).
      const st = lstatSync(dest, { throwIfNoEntry: false });
      return st ? { before, after, afterStamp: stampOf(st) } : { before, after };
    });
    if (outcome) return outcome;
  }
  throw refused(`task ${id} keeps moving while being changed`, 'run the command again');
}

/** A move refused because the destination already holds a file of that name (a duplicate). */
export class TaskExistsError extends MailroomError {
  constructor(
    ctx: StoreContext,
    readonly id: string,
    readonly path: string,
  ) {
    super('refused', `cannot move task ${id}: ${ctx.layout.rel(path)} already exists`, {
      hint: 'two copies of one task; compare them and remove the stale one',
    });
  }
}

async function moveTaskFiles(
  ctx: StoreContext,
  task: TaskRef,
  to: { agent: string; box: Box },
): Promise<void> {
  const dst = ctx.layout.taskPath(to.agent, to.box, task.id);
  // Refuse before touching anything: a move that cannot complete must leave no trace (claiming and
  // releasing `<id>.files` there made a watcher see changes, and the daemon pass again and again).
  // Under the destination's lock, so the answer holds until the move.
  if (
    await lstat(dst).then(
      () => true,
      (err: unknown) => {
        if (errnoCode(err) === 'ENOENT') return false;
        throw err;
      },
    )
  )
    throw new TaskExistsError(ctx, task.id, dst);
  // The result folder goes first: if we crash in between, the task file is still in its old box and
  // the next command (or the daemon) finishes the move, carrying nothing less.
  const filesFrom = ctx.layout.filesDir(task.agent, task.box, task.id);
  const filesTo = ctx.layout.filesDir(to.agent, to.box, task.id);
  const filesMoved = await moveDirIfPresent(filesFrom, filesTo);
  try {
    await moveNoClobber(task.path, dst);
  } catch (err) {
    if (err instanceof TargetExistsError) {
      // Someone without the lock (a person, an editor) put a file there meanwhile: the result
      // folder goes back with its task.
      if (filesMoved) await moveDirIfPresent(filesTo, filesFrom);
      throw new TaskExistsError(ctx, task.id, dst);
    }
    throw err;
  }
}

/** Write a brand-new task into an agent's box; never replaces an existing file. */
export async function createTaskFile(
  ctx: StoreContext,
  agent: string,
  box: Box,
  id: string,
  text: string,
): Promise<string> {
  const path = ctx.layout.taskPath(agent, box, id);
  await ensureFolder(ctx.layout, ctx.layout.boxDir(agent, box));
  await writeFileAtomic(path, text, { exclusive: true });
  return path;
}

export { TargetExistsError };
