// Reads what is on disk into data: which agents exist, which task files sit in which box, and what
// is wrong with the ones that are not tasks. Problems are returned, never thrown: one bad file must
// not hide the good ones.

import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { isAgentName, isTaskId } from '../names.js';
import { decodeTaskBytes, type ParsedTask, parseTask } from '../task/parse.js';
import { BOXES, type Box, isIgnoredName, type Layout } from './layout.js';

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

export interface Problem {
  path: string;
  line?: number;
  reason: string;
}

/** A folder's entries, or none when the folder does not exist (yet). */
export async function readdirOrEmpty(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}

export async function listAgentsOnDisk(layout: Layout): Promise<string[]> {
  const entries = await readdirOrEmpty(layout.agentsDir);
  return entries
    .filter((e) => e.isDirectory() && isAgentName(e.name))
    .map((e) => e.name)
    .sort();
}

/** Task files in the given boxes, by name only (no reads): cheap enough for id lookups. */
export async function scanRefs(
  layout: Layout,
  opts: { agents?: string[]; boxes?: readonly Box[] } = {},
): Promise<{ refs: TaskRef[]; problems: Problem[] }> {
  const agents = opts.agents ?? (await listAgentsOnDisk(layout));
  const refs: TaskRef[] = [];
  const problems: Problem[] = [];
  for (const agent of agents) {
    for (const box of opts.boxes ?? BOXES) {
      const dir = layout.boxDir(agent, box);
      for (const entry of await readdirOrEmpty(dir)) {
        const name = entry.name;
        if (isIgnoredName(name) || !name.endsWith('.md')) continue;
        const path = join(dir, name);
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
  | { ok: false; problem: Problem }
  | { ok: false; missing: true };

/** Read and parse one task file. Never follows a symlink (checked with lstat before reading). */
export async function readTask(ref: TaskRef): Promise<ReadResult> {
  let bytes: Buffer;
  try {
    const st = await lstat(ref.path);
    if (st.isSymbolicLink())
      return { ok: false, problem: { path: ref.path, reason: 'symbolic link; not followed' } };
    bytes = await readFile(ref.path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { ok: false, missing: true };
    throw err;
  }
  const decoded = decodeTaskBytes(bytes);
  if (!decoded.ok) return { ok: false, problem: { path: ref.path, ...decoded.problem } };
  const parsed = parseTask(decoded.text, ref.id);
  if (!parsed.ok) return { ok: false, problem: { path: ref.path, ...parsed.problem } };
  return { ok: true, task: { ...ref, text: decoded.text, parsed: parsed.value } };
}

/** Read every task, collecting problems. */
export async function loadAll(layout: Layout, opts: { agents?: string[]; boxes?: readonly Box[] } = {}) {
  const { refs, problems } = await scanRefs(layout, opts);
  const tasks: LoadedTask[] = [];
  const results = await mapLimit(refs, 32, readTask);
  for (const r of results) {
    if (r.ok) tasks.push(r.task);
    else if ('problem' in r) problems.push(r.problem);
  }
  return { tasks, problems };
}

export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
