// One pass of the daemon over every configured agent's inbox and outbox: the scan is the truth.
//   - a finished (done) task in an outbox is routed to its sender's inbox;
//   - a finished task still in its worker's inbox (finished by a file edit, or a crash between the
//     write and the move) is moved to the outbox first;
//   - a file a person dropped into an inbox is completed into a task once it has settled;
//   - a file that is not a task is reported once per content version, after it has settled (an
//     editor truncating then writing, or an agent streaming with `cat >`, is never judged mid-write);
//   - a state change made by a file edit is checked against the last state seen, and reported (not
//     reverted) when the state machine forbids it.
// Per-file failures are collected as problems; they never stop the pass.

import { lstatSync } from 'node:fs';
import { link, lstat, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { limitsOf } from '../src/config/limits.js';
import { MailroomError } from '../src/errors.js';
import type { Mailroom } from '../src/mailroom.js';
import { isTaskId } from '../src/names.js';
import { writeFileAtomic } from '../src/store/atomic.js';
import { listFolder } from '../src/store/folders.js';
import { healInterruptedMove } from '../src/store/heal.js';
import { type Box, isIgnoredName } from '../src/store/layout.js';
import { readRegularFile } from '../src/store/read-file.js';
import type { LoadedTask, TaskRef } from '../src/store/scan.js';
import { cacheable, type FileStamp, sameStamp, stampOf } from '../src/store/stamp.js';
import { createTaskFile, TargetExistsError, TaskExistsError, updateTask } from '../src/store/tasks.js';
import { newTaskId } from '../src/task/id.js';
import { decodeTaskBytes, type ParsedTask, parseTask } from '../src/task/parse.js';
import { isFinal } from '../src/task/state.js';
import { completeDroppedFile } from './complete.js';
import { illegalChange, type KnownState, knownStateOf } from './hand-edit.js';
import { contentHash, type ReportBook, SIDECAR_SUFFIX } from './reports.js';

/** How long a file must be unchanged before it is judged unreadable or completed. */
export const SETTLE_MS = 700;

/**
 * A dropped file's original inode, kept under a dot name when it is completed into a task:
 * `.<id>.md.dropped-<bytes already in the task>`. A writer still holding the file open (a person
 * typing into `cat >`, an agent streaming) writes on into this inode; later passes append what it
 * wrote to the task, so nothing written late is lost. It goes once it has been quiet for a minute.
 */
const DROPPED = /^\.([A-Za-z0-9][A-Za-z0-9._-]{0,127})\.md\.dropped-(\d+)$/;
const LATE_WRITE_QUIET_MS = 60_000;

async function catchLateWrites(
  mr: Mailroom,
  path: string,
  seen: NonNullable<PassState['seen']>,
  now: number,
): Promise<void> {
  const m = DROPPED.exec(basename(path));
  if (!m) return;
  const id = m[1]!;
  const known = Number(m[2]);
  const st = await lstat(path);
  if (!st.isFile()) return;
  if (st.size > known) {
    const bytes = await readRegularFile(path, { maxBytes: limitsOf(mr.config).taskFile });
    const extra = bytes.subarray(known).toString('utf8');
    await updateTask(mr, id, (t) => ({ text: t.text + extra }));
    await rename(path, join(dirname(path), `.${id}.md.dropped-${bytes.length}`));
    await mr.log({
      type: 'task.late-write',
      id,
      note: `${bytes.length - known} bytes written after completion, appended`,
    });
    return;
  }
  const prev = seen.get(path);
  if (!prev || prev.size !== st.size || prev.mtimeMs !== st.mtimeMs) {
    seen.set(path, { size: st.size, mtimeMs: st.mtimeMs, since: now });
  } else if (now - prev.since >= LATE_WRITE_QUIET_MS && st.size === known) {
    await unlink(path); // quiet, and every byte of it is in the task
  }
}

export interface PassState {
  reports: ReportBook;
  /**
   * path -> the file's size and mtime when first seen in this form, and when (daemon clock). A file
   * is settled once it has stayed the same for SETTLE_MS of the daemon's own clock: mtimes are only
   * compared with themselves, so a file stamped in the future (another machine's clock) settles too.
   */
  seen?: Map<string, { size: number; mtimeMs: number; since: number }>;
  /** id -> last legal state seen (persisted by the caller). */
  known: Map<string, KnownState>;
  /**
   * path -> the task parsed from it, with the file's (size, mtime, ctime, inode) at the read. A
   * rescan re-reads only files whose stat changed, so an idle daemon does not parse 10,000 tasks
   * every few seconds. As in git, a file modified within RACY_MS of its read is never cached.
   */
  parsed?: Map<string, CachedParse>;
  /**
   * path -> a task there that could not be moved because its destination holds another copy, with
   * the content it had then. It is not tried again (nor logged again) until its content changes or
   * the destination is freed, so a duplicate costs one lstat per pass, not a move attempt.
   */
  unroutable?: Map<string, { hash: string; dest: string }>;
}

interface CachedParse extends FileStamp {
  text: string;
  parsed: ParsedTask;
}

export interface PassOutcome {
  tasks: LoadedTask[];
  routed: number;
  moved: number;
  completed: number;
  problems: { path: string; reason: string }[];
  /** When a settling file should be looked at again (ms since epoch). */
  recheckAt?: number;
}

interface Entry extends TaskRef {
  bytes: Buffer;
  /** Unchanged for SETTLE_MS (and not changing while it was read). */
  settled: boolean;
  /** The parse of these bytes, from the cache (then `bytes` is empty) or to be cached. */
  cached?: CachedParse;
  /** The file's stamp before the read and when the read began, when its parse may be cached. */
  stamp?: FileStamp;
  readAt?: number;
}

const EMPTY = Buffer.alloc(0);
/** Give the event loop a turn every so many synchronous stats (a sweep of 10,000 files). */
const STATS_PER_TURN = 256;

const WATCHED_BOXES: readonly Box[] = ['inbox', 'outbox'];

/** Agents whose folders this machine looks after: every configured agent. */
export function watchedAgents(mr: Mailroom): string[] {
  return Object.keys(mr.config.agents).sort();
}

export async function runPass(mr: Mailroom, state: PassState): Promise<PassOutcome> {
  const now = mr.now().getTime();
  const out: PassOutcome = { tasks: [], routed: 0, moved: 0, completed: 0, problems: [] };
  state.seen ??= new Map();
  const seen = state.seen;
  const settleLater = (since: number) => {
    const at = since + SETTLE_MS + 50;
    out.recheckAt = Math.min(out.recheckAt ?? at, at);
  };
  /** Was this form of the file already seen SETTLE_MS ago? Records it otherwise. */
  const isSettled = (path: string, size: number, mtimeMs: number): boolean => {
    const prev = seen.get(path);
    if (prev && prev.size === size && prev.mtimeMs === mtimeMs) {
      if (now - prev.since >= SETTLE_MS) return true;
      settleLater(prev.since);
      return false;
    }
    seen.set(path, { size, mtimeMs, since: now });
    settleLater(now);
    return false;
  };
  const entries: Entry[] = [];
  const seenPaths = new Set<string>();
  state.parsed ??= new Map();
  const cache = state.parsed;
  let stats = 0;

  for (const agent of watchedAgents(mr)) {
    for (const box of WATCHED_BOXES) {
      const dir = mr.layout.boxDir(agent, box);
      // A box reached through a link (or an agent folder, or agents/, that is one) is reported once
      // and left alone: nothing in it is completed, moved or given a sidecar.
      const listed = await listFolder(mr.layout, dir);
      if (listed.problem) {
        const p = listed.problem;
        if (!seenPaths.has(p.path)) {
          seenPaths.add(p.path);
          out.problems.push({ path: p.rel, reason: p.reason });
          await state.reports.report(
            p.path,
            Buffer.from(`folder: ${p.reason}`),
            `${p.reason}; ${p.hint}`,
            undefined,
            {
              folder: true,
            },
          );
        }
        continue;
      }
      for (const { name } of listed.entries) {
        if (box === 'inbox' && DROPPED.test(name)) {
          await catchLateWrites(mr, join(dir, name), seen, now).catch((err) =>
            out.problems.push({ path: mr.layout.rel(join(dir, name)), reason: String(err) }),
          );
          seenPaths.add(join(dir, name));
          continue;
        }
        if (isIgnoredName(name) || !name.endsWith('.md')) continue;
        const path = join(dir, name);
        seenPaths.add(path);
        try {
          // Synchronous lstat, in turns: a promise per file costs several times more CPU.
          if (++stats % STATS_PER_TURN === 0) await new Promise((r) => setImmediate(r));
          const st = lstatSync(path);
          if (st.isSymbolicLink()) {
            await state.reports.report(
              path,
              Buffer.from(`symlink:${path}`),
              'symbolic link where a task should be; mailroom never follows links',
            );
            continue;
          }
          if (!st.isFile()) continue;
          const hit = cache.get(path);
          if (hit && sameStamp(hit, st)) {
            const settled = isSettled(path, st.size, st.mtimeMs);
            const id = name.slice(0, -3);
            entries.push({ agent, box, id, path, bytes: EMPTY, settled, cached: hit });
            continue;
          }
          cache.delete(path);
          const readAt = Date.now();
          // From the descriptor that was type-checked: a fifo swapped in since the lstat never blocks.
          const bytes = await readRegularFile(path, { maxBytes: limitsOf(mr.config).taskFile });
          // Stat again after the read: a save that began meanwhile makes this read unsettled.
          const after = await lstat(path);
          const stable =
            after.size === st.size && after.mtimeMs === st.mtimeMs && after.size === bytes.length;
          let settled = false;
          if (stable) settled = isSettled(path, st.size, st.mtimeMs);
          else {
            seen.delete(path);
            settleLater(now);
          }
          entries.push({
            agent,
            box,
            id: name.slice(0, -3),
            path,
            bytes,
            settled,
            ...(stable ? { stamp: stampOf(st), readAt } : {}),
          });
        } catch (err) {
          const gone =
            (err as NodeJS.ErrnoException).code === 'ENOENT' ||
            (err instanceof MailroomError && err.kind === 'notFound');
          if (!gone)
            out.problems.push({
              path: mr.layout.rel(path),
              reason: err instanceof Error ? err.message : String(err),
            });
        }
      }
    }
  }
  // Reports for files that are gone, and the memory of how they looked.
  for (const path of [...state.reports.open.keys()]) {
    if (!seenPaths.has(path)) await state.reports.clear(path, 'gone');
  }
  for (const path of [...seen.keys()]) if (!seenPaths.has(path)) seen.delete(path);
  for (const path of [...cache.keys()]) if (!seenPaths.has(path)) cache.delete(path);
  state.unroutable ??= new Map();
  for (const path of [...state.unroutable.keys()]) if (!seenPaths.has(path)) state.unroutable.delete(path);

  const ids = new Map<string, Entry[]>();
  for (const e of entries) ids.set(e.id, [...(ids.get(e.id) ?? []), e]);

  for (const e of entries) {
    try {
      await handleEntry(mr, state, e, ids, out);
    } catch (err) {
      const reason = err instanceof MailroomError ? err.message : String(err);
      out.problems.push({ path: mr.layout.rel(e.path), reason });
    }
  }
  return out;
}

async function handleEntry(
  mr: Mailroom,
  state: PassState,
  e: Entry,
  ids: Map<string, Entry[]>,
  out: PassOutcome,
): Promise<void> {
  const settled = e.settled;
  let text: string;
  let parsedTask: ParsedTask;
  if (e.cached) {
    ({ text, parsed: parsedTask } = e.cached);
  } else {
    const decoded = decodeTaskBytes(e.bytes);
    if (!decoded.ok) {
      if (settled) await state.reports.report(e.path, e.bytes, decoded.problem.reason);
      return;
    }
    text = decoded.text;
    const parsed = isTaskId(e.id) ? parseTask(text, e.id) : undefined;
    if (!parsed?.ok) {
      await notATask(mr, state, e, text, parsed?.problem, ids, out);
      return;
    }
    parsedTask = parsed.value;
  }

  const task = parsedTask.task;
  const bad = illegalChange(state.known.get(task.id), task);
  if (bad) {
    // A report is keyed by the file's bytes; a cached entry carries none, so read them.
    state.parsed?.delete(e.path);
    const bytes = e.cached
      ? await readRegularFile(e.path, { maxBytes: limitsOf(mr.config).taskFile }).catch(() => e.bytes)
      : e.bytes;
    await state.reports.report(e.path, bytes, bad);
    return;
  }
  if (!e.cached && e.stamp && e.readAt !== undefined) {
    // Cache the parse unless the file changed within RACY_MS of the read (see PassState.parsed).
    if (cacheable(e.stamp, e.readAt)) state.parsed?.set(e.path, { ...e.stamp, text, parsed: parsedTask });
  }
  state.known.set(task.id, knownStateOf(task));
  await state.reports.clear(e.path, 'fixed');
  const copies = ids.get(e.id)!;
  if (copies.length > 1) {
    // Two names for one task: a move cut short by a crash (same file) is completed; two different
    // files are reported and left for a person (or the sync merge) rather than guessed at.
    const keep = await healInterruptedMove(mr, copies);
    if (!keep)
      out.problems.push({
        path: mr.layout.rel(e.path),
        reason: `task ${e.id} exists in ${copies.length} places with different content`,
      });
    else if (keep.path !== e.path) return;
  }
  if (!e.cached && e.box === 'inbox' && e.agent === task.from && isFinal(task.state)) {
    // A finished task home in its sender's inbox while the sender has already archived it: a copy a
    // sync brought back (D2's pull-back, after the archive). The archive is not scanned by the pass,
    // so look there by name; the same bytes are folded like an interrupted move, different ones
    // are reported. (Once per version of the file: an unchanged, cached file was checked already.)
    const archived = mr.layout.taskPath(e.agent, 'archive', e.id);
    if (
      await lstat(archived).then(
        () => true,
        () => false,
      )
    ) {
      const keep = await healInterruptedMove(mr, [
        { agent: e.agent, box: 'archive', id: e.id, path: archived },
        e,
      ]);
      if (keep?.path === archived) return;
      if (!keep)
        out.problems.push({
          path: mr.layout.rel(e.path),
          reason: `task ${e.id} is also in ${mr.layout.rel(archived)}, with different content`,
        });
    }
  }

  const loaded: LoadedTask = { agent: e.agent, box: e.box, id: e.id, path: e.path, text, parsed: parsedTask };
  if (
    e.box === 'inbox' &&
    e.agent === task.to &&
    task.from !== task.to &&
    (task.state === 'done' || task.state === 'failed')
  ) {
    if (!(await moveOrHold(mr, state, loaded, Buffer.from(text), 'outbox', e.agent, 'task.moved', out)))
      return;
    out.moved++;
    if (task.state !== 'done') return;
    loaded.box = 'outbox';
    loaded.path = mr.layout.taskPath(e.agent, 'outbox', e.id);
  }
  if (loaded.box === 'outbox' && task.state === 'done') {
    if (!(task.from in mr.config.agents)) {
      out.problems.push({
        path: mr.layout.rel(loaded.path),
        reason: `cannot route: sender "${task.from}" is not a configured agent`,
      });
    } else {
      if (!(await moveOrHold(mr, state, loaded, Buffer.from(text), 'inbox', task.from, 'task.routed', out)))
        return;
      out.routed++;
      return;
    }
  }
  out.tasks.push(loaded);
}

/** A file in a box that does not parse as a task: a drop-in to complete, or a report. */
async function notATask(
  mr: Mailroom,
  state: PassState,
  e: Entry,
  text: string,
  problem: { line?: number; reason: string } | undefined,
  ids: Map<string, Entry[]>,
  out: PassOutcome,
): Promise<void> {
  const settled = e.settled;
  if (e.box === 'inbox') {
    const drop = completeDroppedFile({
      text,
      name: e.id,
      agent: e.agent,
      now: mr.now(),
      isIdFree: (id) => !ids.has(id) || (id === e.id && ids.get(id)!.length === 1),
      newId: () => newTaskId(mr.now()),
    });
    if (drop.kind === 'empty') return; // nothing yet; an editor may be about to write
    if (drop.kind === 'completed') {
      if (!settled) return;
      await completeFile(mr, state, e, drop.id, drop.text);
      out.completed++;
      return;
    }
  }
  if (!settled) return;
  const why = problem ?? { reason: 'file name is not a valid task id (letters, digits, . _ - only)' };
  await state.reports.report(e.path, e.bytes, why.reason, why.line);
}

/**
 * Move a task as moveAs does, unless its destination holds another copy: then the task stays, the
 * duplicate is logged once (`task.unroutable`) and is a problem of every pass, and the move is not
 * tried again until the task's content changes or the destination is freed. Returns whether it moved.
 */
async function moveOrHold(
  mr: Mailroom,
  state: PassState,
  t: LoadedTask,
  bytes: Buffer,
  box: Box,
  agent: string,
  type: string,
  out: PassOutcome,
): Promise<boolean> {
  state.unroutable ??= new Map();
  const held = state.unroutable;
  const hash = contentHash(bytes);
  const blocked = held.get(t.path);
  const problem = (dest: string) =>
    out.problems.push({
      path: mr.layout.rel(t.path),
      reason: `cannot move task ${t.id}: ${mr.layout.rel(dest)} already exists (two copies; compare them and remove the stale one)`,
    });
  if (
    blocked?.hash === hash &&
    (await lstat(blocked.dest).then(
      () => true,
      () => false,
    ))
  ) {
    problem(blocked.dest);
    return false;
  }
  try {
    await moveAs(mr, t, box, agent, type);
    held.delete(t.path);
    return true;
  } catch (err) {
    if (!(err instanceof TaskExistsError)) throw err;
    held.set(t.path, { hash, dest: err.path });
    problem(err.path);
    if (blocked?.hash !== hash || blocked.dest !== err.path)
      await mr.log({
        type: 'task.unroutable',
        id: t.id,
        path: mr.layout.rel(t.path),
        reason: err.message,
      });
    return false;
  }
}

/** Move a task without changing its bytes, under its lock; the event says what the move meant. */
async function moveAs(mr: Mailroom, t: LoadedTask, box: Box, agent: string, type: string): Promise<void> {
  const r = await updateTask(mr, t, (current) => {
    const s = current.parsed.task.state;
    if (s !== t.parsed.task.state)
      throw new MailroomError('refused', `task ${t.id} changed while being moved; next pass`);
    return { text: current.text, moveTo: { agent, box } };
  });
  await mr.log({ type, id: t.id, agent, from: t.agent, to: agent, path: mr.layout.rel(r.after.path) });
}

/** Write the completed task under the file's lock, only if the file is still what was read. */
async function completeFile(
  mr: Mailroom,
  state: PassState,
  e: Entry,
  id: string,
  text: string,
): Promise<void> {
  await mr.locker(e.path, async (guard) => {
    const now = await readRegularFile(e.path, { maxBytes: limitsOf(mr.config).taskFile }).catch(
      () => undefined,
    );
    if (!now || contentHash(now) !== contentHash(e.bytes)) return; // changed meanwhile: next pass
    guard.assertHeld();
    // Keep the original inode reachable: a writer may still be writing into it (see DROPPED).
    await link(e.path, join(dirname(e.path), `.${id}.md.dropped-${e.bytes.length}`)).catch(() => {});
    if (id === e.id) {
      await writeFileAtomic(e.path, text);
    } else {
      try {
        await createTaskFile(mr, e.agent, 'inbox', id, text);
      } catch (err) {
        if (err instanceof TargetExistsError) return; // the id was taken meanwhile: next pass picks another
        throw err;
      }
      await unlink(e.path);
    }
  });
  await state.reports.clear(e.path, 'fixed');
  await mr.log({
    type: 'task.completed',
    id,
    agent: e.agent,
    path: mr.layout.rel(mr.layout.taskPath(e.agent, 'inbox', id)),
    note: id === e.id ? undefined : `from ${e.id}.md`,
  });
}

export { SIDECAR_SUFFIX };
