// Reads what is on disk into data: which agents exist, which task files sit in which box, and what
// is wrong with the ones that are not tasks. Problems are returned, never thrown: one bad file must
// not hide the good ones.

import { lstatSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { DEFAULT_LIMITS } from '../config/limits.js';
import { errnoCode, MailroomError } from '../errors.js';
import { mapLimit } from '../map-limit.js';
import { isAgentName, isTaskId } from '../names.js';
import type { Problem } from '../problem.js';
import { decodeTaskBytes, type ParsedTask, parseTask } from '../task/parse.js';
import { type FolderProblem, folderProblem, listFolder } from './folders.js';
import { BOXES, type Box, isNeverATask, type Layout } from './layout.js';
import { NotAFileError, readRegularFile, TooBigError } from './read-file.js';

export interface TaskRef {
  agent: string;
  box: Box;
  id: string;
  path: string;
}

export interface LoadedTask extends TaskRef {
  text: string;
  parsed: ParsedTask;
}

/**
 * A Problem (src/problem.ts) as the store finds it: its `path` is still absolute (readTask is given a
 * task's ref, not the root). An op names it relative to the root (layout.rel) before it reaches people.
 */
export type StoreProblem = Problem;

/** A folder's entries, or none when the folder does not exist (yet). */
export async function readdirOrEmpty(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}

/** A folder problem as a scan problem: the path, what is wrong and the fix. */
export function folderAsProblem(p: FolderProblem): StoreProblem {
  return { path: p.path, reason: `${p.reason}; ${p.hint}` };
}

/**
 * Agent folders in `agents/` (real folders only: a link is never listed into), and a problem for
 * each entry with an agent's name that is a link or a file, and for `agents/` itself if it is one.
 */
export async function scanAgentsOnDisk(
  layout: Layout,
): Promise<{ agents: string[]; problems: StoreProblem[] }> {
  const { entries, problem } = await listFolder(layout, layout.agentsDir);
  if (problem) return { agents: [], problems: [folderAsProblem(problem)] };
  const agents: string[] = [];
  const problems: StoreProblem[] = [];
  for (const e of entries) {
    if (!isAgentName(e.name)) continue;
    if (e.isDirectory()) agents.push(e.name);
    else {
      const p = await folderProblem(layout, layout.agentDir(e.name));
      if (p) problems.push(folderAsProblem(p));
    }
  }
  return { agents: agents.sort(), problems };
}

export async function listAgentsOnDisk(layout: Layout): Promise<string[]> {
  return (await scanAgentsOnDisk(layout)).agents;
}

/**
 * The files named exactly `<id>.md` in any agent's box, found with one lstat per box instead of a
 * listing of every box (a command given a whole id, on a big mailroom, saves most of its work). Only
 * regular files in real folders count, as in scanRefs; anything else is left to scanRefs to report.
 */
export async function findExact(layout: Layout, id: string): Promise<TaskRef[]> {
  if (!isTaskId(id)) return [];
  const { agents } = await scanAgentsOnDisk(layout);
  const refs: TaskRef[] = [];
  const name = `${id}.md`;
  for (const agent of agents)
    for (const box of BOXES) {
      // Synchronous: one lstat is microseconds, and 60 of them through the thread pool cost a
      // short command more time than the rest of its lookup (20 agents, 3 boxes each).
      const dir = layout.boxDir(agent, box);
      if (!lstatSync(`${dir}/${name}`, { throwIfNoEntry: false })?.isFile()) continue;
      if ((await folderProblem(layout, dir)) === undefined)
        refs.push({ agent, box, id, path: `${dir}/${name}` });
    }
  return refs;
}

/**
 * Task files in the given boxes, by name only (no reads): cheap enough for id lookups. A box that
 * is (or lies under) a link or a file is a problem, and nothing in it is listed.
 */
export async function scanRefs(
  layout: Layout,
  opts: { agents?: string[]; boxes?: readonly Box[] } = {},
): Promise<{ refs: TaskRef[]; problems: StoreProblem[] }> {
  const refs: TaskRef[] = [];
  const problems: StoreProblem[] = [];
  let agents = opts.agents;
  if (!agents) {
    const onDisk = await scanAgentsOnDisk(layout);
    agents = onDisk.agents;
    problems.push(...onDisk.problems);
  }
  const reported = new Set<string>();
  for (const agent of agents) {
    for (const box of opts.boxes ?? BOXES) {
      const dir = layout.boxDir(agent, box);
      const listed = await listFolder(layout, dir);
      if (listed.problem) {
        // One problem per bad folder, even when it lies above several boxes (agents/, an agent).
        if (!reported.has(listed.problem.path)) problems.push(folderAsProblem(listed.problem));
        reported.add(listed.problem.path);
        continue;
      }
      for (const entry of listed.entries) {
        const name = entry.name;
        if (isNeverATask(name) || !name.endsWith('.md')) continue;
        const path = `${dir}/${name}`; // a listed name: no separator, nothing to normalise
        if (entry.isSymbolicLink()) {
          problems.push({
            path,
            reason: 'symbolic link where a task file should be; mailroom never follows links',
          });
          continue;
        }
        if (!entry.isFile()) continue;
        const id = name.slice(0, -3);
        if (!isTaskId(id)) {
          problems.push({ path, reason: `file name is not a valid task id (letters, digits, . _ - only)` });
          continue;
        }
        refs.push({ agent, box, id, path });
      }
    }
  }
  return { refs, problems };
}

export type ReadResult =
  | { ok: true; task: LoadedTask }
  | { ok: false; problem: StoreProblem }
  | { ok: false; missing: true };

/**
 * Read and parse one task file. Never follows a symlink, never blocks on a fifo, never reads more
 * than `maxBytes` (read-file.ts).
 */
export async function readTask(ref: TaskRef, maxBytes = DEFAULT_LIMITS.taskFile): Promise<ReadResult> {
  return readTaskMemo(ref, maxBytes);
}

/**
 * What a long-running reader parsed, by path: a file read again with the very same text is the same
 * task, so it is not parsed again (the file itself is always read: no stamp is trusted here).
 */
export type ParseMemo = Map<string, LoadedTask>;

/** readTask, skipping the parse when `memo` holds the same text for the same path and id. */
export async function readTaskMemo(
  ref: TaskRef,
  maxBytes = DEFAULT_LIMITS.taskFile,
  memo?: ParseMemo,
): Promise<ReadResult> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(ref.path, { maxBytes });
  } catch (err) {
    if (err instanceof MailroomError && err.kind === 'notFound') return { ok: false, missing: true };
    if (err instanceof NotAFileError && err.what === 'symbolic link')
      return { ok: false, problem: { path: ref.path, reason: 'symbolic link; not followed' } };
    if (err instanceof NotAFileError || err instanceof TooBigError)
      return { ok: false, problem: { path: ref.path, reason: err.message } };
    throw err;
  }
  const decoded = decodeTaskBytes(bytes);
  if (!decoded.ok) return { ok: false, problem: { path: ref.path, ...decoded.problem } };
  const known = memo?.get(ref.path);
  if (known && known.id === ref.id && known.text === decoded.text)
    return { ok: true, task: { ...ref, text: known.text, parsed: known.parsed } };
  const parsed = parseTask(decoded.text, ref.id);
  if (!parsed.ok) return { ok: false, problem: { path: ref.path, ...parsed.problem } };
  const task = { ...ref, text: decoded.text, parsed: parsed.value };
  memo?.set(ref.path, task);
  return { ok: true, task };
}

/** Read every task, collecting problems. */
export async function loadAll(
  layout: Layout,
  opts: { agents?: string[]; boxes?: readonly Box[]; maxBytes?: number; memo?: ParseMemo } = {},
) {
  const { refs, problems } = await scanRefs(layout, opts);
  const tasks: LoadedTask[] = [];
  const results = await mapLimit(refs, 32, (ref) => readTaskMemo(ref, opts.maxBytes, opts.memo));
  for (const r of results) {
    if (r.ok) tasks.push(r.task);
    else if ('problem' in r) problems.push(r.problem);
  }
  return { tasks, problems };
}

// The one bounded-concurrency helper lives in src/map-limit.ts; re-exported for the store's callers.
export { mapLimit };
