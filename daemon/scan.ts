// The pass's first stage: list every watched box and read what changed. The listing is the truth
// (events are only hints); a file whose (size, mtime, ctime, inode) is what it was when its parse
// was cached is not read again, so an idle daemon does not read 10,000 tasks every rescan. Reads
// only: nothing here writes, moves or reports.

import { lstatSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { MailroomError } from '../src/errors.js';
import { sha256Hex } from '../src/hash.js';
import type { Mailroom } from '../src/mailroom.js';
import type { Problem } from '../src/problem.js';
import type { FolderProblem } from '../src/store/folders.js';
import { listFolder } from '../src/store/folders.js';
import { type Box, isNeverATask } from '../src/store/layout.js';
import { readRegularFile } from '../src/store/read-file.js';
import type { TaskRef } from '../src/store/scan.js';
import { type FileStamp, sameStamp, stampOf } from '../src/store/stamp.js';
import type { Task } from '../src/task/schema.js';
import { isKeptDrop } from './late-writes.js';
import type { Settling } from './settle.js';

/**
 * What the cache keeps of a task file between passes: its stamp at the read, the task, and the
 * hash of its bytes. Not the text, nor the parsed YAML: with 10,000 tasks those were most of an idle
 * daemon's memory, and every action re-reads the file under its lock anyway.
 */
export interface CachedParse extends FileStamp {
  task: Task;
  hash: string;
}

/** path -> the cached parse of the task there (see CachedParse). */
export type ParseCache = Map<string, CachedParse>;

export interface Entry extends TaskRef {
  /** Unchanged for SETTLE_MS (and not changing while it was read). */
  settled: boolean;
  /** The bytes read in this pass; empty when the parse came from the cache. */
  bytes: Buffer;
  /** The parse of these bytes from the cache, when the file is unchanged since. */
  cached?: CachedParse;
  /** The file's stamp before the read, and when the read began, when its parse may be cached. */
  stamp?: FileStamp;
  readAt?: number;
}

export interface Scan {
  entries: Entry[];
  /** Every path listed this pass (files that are gone are forgotten by the caller). */
  listed: Set<string>;
  /** Boxes reached through a link or not a folder: reported once, nothing in them is touched. */
  folders: FolderProblem[];
  /** Task names that are symbolic links: reported, never followed. */
  links: string[];
  /** Kept inodes of completed drops (late-writes.ts). */
  keptDrops: string[];
  problems: Problem[];
}

const EMPTY = Buffer.alloc(0);
/** Give the event loop a turn every so many synchronous stats (a sweep of 10,000 files). */
const STATS_PER_TURN = 256;
const WATCHED_BOXES: readonly Box[] = ['inbox', 'outbox'];

/** Agents whose folders this machine looks after: every configured agent. */
export function watchedAgents(mr: Mailroom): string[] {
  return Object.keys(mr.config.agents).sort();
}

export async function scanBoxes(mr: Mailroom, cache: ParseCache, settling: Settling): Promise<Scan> {
  const scan: Scan = { entries: [], listed: new Set(), folders: [], links: [], keptDrops: [], problems: [] };
  const turn = { stats: 0 };
  for (const agent of watchedAgents(mr)) {
    for (const box of WATCHED_BOXES) {
      const dir = mr.layout.boxDir(agent, box);
      const listed = await listFolder(mr.layout, dir);
      if (listed.problem) {
        if (!scan.listed.has(listed.problem.path)) {
          scan.listed.add(listed.problem.path);
          scan.folders.push(listed.problem);
        }
        continue;
      }
      for (const { name } of listed.entries) {
        const path = join(dir, name);
        if (box === 'inbox' && isKeptDrop(name)) {
          scan.listed.add(path);
          scan.keptDrops.push(path);
          continue;
        }
        if (isNeverATask(name) || !name.endsWith('.md')) continue;
        scan.listed.add(path);
        try {
          // Synchronous lstat, in turns: a promise per file costs several times more CPU.
          if (++turn.stats % STATS_PER_TURN === 0) await new Promise((r) => setImmediate(r));
          const entry = scanFile(agent, box, name, path, cache, settling, scan);
          if (entry) scan.entries.push(entry);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
            scan.problems.push({ path: mr.layout.rel(path), reason: String(err) });
        }
      }
    }
  }
  return scan;
}

function scanFile(
  agent: string,
  box: Box,
  name: string,
  path: string,
  cache: ParseCache,
  settling: Settling,
  scan: Scan,
): Entry | undefined {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) {
    scan.links.push(path);
    return undefined;
  }
  if (!st.isFile()) return undefined;
  const id = name.slice(0, -3);
  const hit = cache.get(path);
  if (hit && sameStamp(hit, st)) {
    const settled = settling.isSettled(path, st.size, st.mtimeMs);
    return { agent, box, id, path, bytes: EMPTY, settled, cached: hit };
  }
  cache.delete(path);
  return { agent, box, id, path, bytes: EMPTY, settled: false, stamp: stampOf(st) };
}

/**
 * Read an entry the cache did not answer for, just before it is judged (one file's bytes in memory
 * at a time, not the whole backlog's). Undefined when it is gone. A file that changed between the
 * listing's stat and the end of the read is unsettled, and its parse is not cached.
 */
export async function readEntry(e: Entry, settling: Settling, maxBytes: number): Promise<Entry | undefined> {
  if (e.cached || !e.stamp) return e;
  const st = e.stamp;
  const readAt = Date.now();
  let bytes: Buffer;
  try {
    // From the descriptor that was type-checked: a fifo swapped in since the listing never blocks,
    // and a file over limits.task_file is never read whole (read-file.ts).
    bytes = await readRegularFile(e.path, { maxBytes });
  } catch (err) {
    if (err instanceof MailroomError && err.kind === 'notFound') return undefined;
    throw err;
  }
  const after = await lstat(e.path);
  const stable = after.size === st.size && after.mtimeMs === st.mtimeMs && after.size === bytes.length;
  if (!stable) {
    settling.unsettled(e.path);
    const { stamp: _, ...rest } = e;
    return { ...rest, bytes, settled: false };
  }
  return { ...e, bytes, settled: settling.isSettled(e.path, st.size, st.mtimeMs), readAt };
}

/** The hash of an entry's bytes, from the cache when they were not read. */
export const entryHash = (e: Entry): string => e.cached?.hash ?? sha256Hex(e.bytes);
