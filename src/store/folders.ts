// The folders between the root and a task file: `agents/`, `agents/<agent>/` and
// `agents/<agent>/<box>/`. Invariant: mailroom lists, reads, writes and moves task files only through
// folders it has seen to be real folders (lstat), never through a symbolic link (docs/spec.md §1). A
// link there would make every task operation in it happen outside the root: `send` writing there,
// the daemon completing and rewriting a person's files there, routing removing them from there.
// Each folder is checked just before it is used; a link swapped in between the check and the use by
// someone with write access to the root is outside what mailroom can defend against with plain
// POSIX calls, and is the same window the local sync endpoint has.

import { type Dirent, lstatSync, readdirSync, type Stats } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import { errnoCode, MailroomError } from '../errors.js';
import { fsyncDir } from './atomic.js';
import type { Layout } from './layout.js';

export interface FolderProblem {
  /** The absolute path of the first folder on the way that is not a real folder. */
  path: string;
  /** The same, relative to the root, for messages. */
  rel: string;
  /** What is wrong and why mailroom will not use it, for people (without the path). */
  reason: string;
  /** What to do about it. */
  hint: string;
}

/** `dir` and the folders above it, from `agents/` down; the root itself is the person's to choose. */
function chain(layout: Layout, dir: string): string[] {
  const agents = layout.agentsDir;
  if (dir !== agents && !dir.startsWith(`${agents}${sep}`)) {
    // Only Layout builds these paths, so this is a bug in mailroom, not bad input.
    throw new Error(`internal error: ${dir} is not under ${agents}`);
  }
  const out = [agents];
  let at = agents;
  for (const part of dir
    .slice(agents.length + 1)
    .split(sep)
    .filter(Boolean)) {
    at = `${at}${sep}${part}`;
    out.push(at);
  }
  return out;
}

function problemOf(layout: Layout, path: string, st: Stats): FolderProblem | undefined {
  const rel = layout.rel(path);
  if (st.isSymbolicLink())
    return {
      path,
      rel,
      reason:
        'symbolic link where a folder should be; mailroom never follows links, so nothing in it is used',
      hint: `replace the link with a real folder: \`rm ${rel}\`, \`mkdir ${rel}\`, and move into it the files of the link's target that belong in this mailroom`,
    };
  if (!st.isDirectory())
    return {
      path,
      rel,
      reason: 'not a folder, so mailroom cannot use it',
      hint: `move the file ${rel} elsewhere, then \`mkdir ${rel}\``,
    };
  return undefined;
}

/**
 * The first folder from `agents/` down to `dir` that is a link or not a folder, or undefined when
 * every one is a real folder or does not exist (yet): what does not exist holds nothing to misuse.
 */
export async function folderProblem(layout: Layout, dir: string): Promise<FolderProblem | undefined> {
  return folderProblemNow(layout, dir);
}

// Synchronous inside (the functions stay async for their callers): an lstat or the listing of one
// box is microseconds, and through the thread pool each call cost a round trip of its own. `ls` on
// 20 agents made 240 of them, one after the other: most of its time was spent waiting for them.
function folderProblemNow(layout: Layout, dir: string): FolderProblem | undefined {
  for (const path of chain(layout, dir)) {
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
      throw err;
    }
    const problem = problemOf(layout, path, st);
    if (problem) return problem;
  }
  return undefined;
}

/** The refusal a command gets for a folder it must not use (exit 3). */
export class UnsafeFolderError extends MailroomError {
  constructor(readonly problem: FolderProblem) {
    super('refused', `${problem.rel}: ${problem.reason}`, { hint: problem.hint });
  }
}

/**
 * The entries of a folder under `agents/` (none when it does not exist), or the problem instead
 * when it or a folder above it is a link or not a folder: then nothing in it is listed.
 */
export async function listFolder(
  layout: Layout,
  dir: string,
): Promise<{ entries: Dirent[]; problem?: FolderProblem }> {
  const problem = folderProblemNow(layout, dir);
  if (problem) return { entries: [], problem };
  try {
    return { entries: readdirSync(dir, { withFileTypes: true }) };
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { entries: [] };
    if (errnoCode(err) === 'ENOTDIR') {
      // Replaced by a file since the check: report what is there now.
      const again = folderProblemNow(layout, dir);
      return again ? { entries: [], problem: again } : { entries: [] };
    }
    throw err;
  }
}

/**
 * Make `dir` (under `agents/`) and the folders above it exist as real folders, creating what is
 * missing one level at a time (so nothing is ever created through a link), and refuse with an
 * UnsafeFolderError when one of them is a link or not a folder. A new folder's entry is made durable
 * in its parent, so a task written into it right after survives a power cut with its folder.
 */
export async function ensureFolder(layout: Layout, dir: string): Promise<void> {
  for (const path of chain(layout, dir)) {
    let created = false;
    try {
      await mkdir(path);
      created = true;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const problem = problemOf(layout, path, lstatSync(path));
    if (problem) throw new UnsafeFolderError(problem);
    if (created) await fsyncDir(dirname(path));
  }
}

/** Throw (exit 3) when `dir` or a folder above it is a link or not a folder; missing is fine. */
export async function assertFolderSafe(layout: Layout, dir: string): Promise<void> {
  const problem = await folderProblem(layout, dir);
  if (problem) throw new UnsafeFolderError(problem);
}
