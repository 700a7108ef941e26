// Reading the event log for `mailroom log`: the last N events, events since a time, one task's events,
// and following new ones as they are appended, across rotations (src/events/log.ts).

import { type FileHandle, open, stat } from 'node:fs/promises';
import { errnoCode } from '../errors.js';
import { type MailroomEvent, parseEvents, readEventFile, rotatedFiles } from './log.js';

export interface EventQuery {
  /** Only the last N matching events. */
  last?: number;
  /** Only events at or after this time (ms since the epoch). */
  since?: number;
  match?: (e: MailroomEvent) => boolean;
}

/** Matching events, oldest first. Reads the newest file first and stops as soon as it has enough. */
export async function queryEvents(path: string, q: EventQuery): Promise<MailroomEvent[]> {
  const keep = (e: MailroomEvent) =>
    (q.since === undefined || Date.parse(e.at) >= q.since) && (q.match === undefined || q.match(e));
  const chunks: MailroomEvent[][] = [];
  let count = 0;
  const files = [...(await rotatedFiles(path)), path].reverse();
  for (const file of files) {
    const events = await readEventFile(file);
    const kept = events.filter(keep);
    chunks.unshift(kept);
    count += kept.length;
    if (q.last !== undefined && count >= q.last) break;
    const first = events[0];
    if (q.since !== undefined && first !== undefined && Date.parse(first.at) < q.since) break;
  }
  const all = chunks.flat();
  return q.last === undefined ? all : all.slice(Math.max(0, all.length - q.last));
}

/**
 * Calls `emit` with each event appended from now on, until the signal aborts. Polls the file size
 * (portable; a missed wake-up costs one interval); when the file is rotated it reads what is left of
 * the old one, then every file rotated after it in order, before the new one, so nothing appended in
 * between is skipped (unless more than `keep` rotations happened between two looks).
 */
export async function followEvents(
  path: string,
  emit: (e: MailroomEvent) => void,
  opts: {
    signal?: AbortSignal;
    intervalMs?: number;
    fromStart?: boolean;
    /** Called once "now" is fixed: events appended after this call are all emitted. */
    onStart?: () => void;
  } = {},
): Promise<void> {
  let handle = await openIfPresent(path, opts.signal);
  let offset = opts.fromStart ? 0 : ((await handle?.stat())?.size ?? 0);
  // The inode of the file being read, kept when the next one could not be opened yet (the log is
  // renamed away before a new one is created): the next look steps on from it, not to whatever the
  // log is by then, which may be several rotations later.
  let reading = handle ? (await handle.stat()).ino : undefined;
  let carry = '';
  opts.onStart?.();
  const drain = async () => {
    if (!handle) return;
    const { size } = await handle.stat();
    if (size < offset) offset = 0; // truncated by hand
    if (size === offset) return;
    const buf = Buffer.alloc(size - offset);
    await handle.read(buf, 0, buf.length, offset);
    offset = size;
    const text = carry + buf.toString('utf8');
    const cut = text.lastIndexOf('\n') + 1;
    carry = text.slice(cut);
    for (const e of parseEvents(text.slice(0, cut))) emit(e);
  };
  try {
    while (!opts.signal?.aborted) {
      await drain();
      const current = await stat(path).catch(() => undefined);
      if (current && current.ino !== reading) {
        await drain(); // the rest of the rotated file
        await handle?.close();
        // Several rotations may have happened since the last look: step to the file rotated right
        // after ours, not to the current one, so no file in between is skipped.
        handle = await openAfter(path, reading);
        if (handle) reading = (await handle.stat()).ino;
        offset = 0;
        carry = '';
        continue;
      }
      await sleep(opts.intervalMs ?? 250, opts.signal);
    }
  } finally {
    await handle?.close();
  }
}

/**
 * Resolves after `ms`, or at once when `signal` aborts. Not node:timers/promises: it takes 6 ms to
 * load, which `ls` (whose command file imports this one for `log`) would pay too.
 */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

async function openIfPresent(path: string, signal?: AbortSignal): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' && !signal?.aborted) return undefined;
    throw err;
  }
}

/**
 * Opens the file that follows the one with inode `ino` (or the log itself when there was none). The
 * log may rotate again between finding that file and opening it: opening `events.jsonl` then would
 * skip the file it just became, so the choice is checked after the open and made again if it moved.
 */
async function openAfter(path: string, ino: number | undefined): Promise<FileHandle | undefined> {
  if (ino === undefined) return open(path, 'r').catch(() => undefined);
  for (;;) {
    const next = await fileAfter(path, ino);
    const handle = await open(next, 'r').catch(() => undefined);
    if (!handle) return undefined;
    const opened = (await handle.stat()).ino;
    const still = await stat(await fileAfter(path, ino)).catch(() => undefined);
    if (still?.ino === opened) return handle;
    await handle.close();
  }
}

/** The file that follows the one with inode `ino`: the next rotated file, or the current log. */
async function fileAfter(path: string, ino: number): Promise<string> {
  const rotated = await rotatedFiles(path);
  for (let i = rotated.length - 1; i >= 0; i--) {
    const s = await stat(rotated[i] as string).catch(() => undefined);
    if (s?.ino === ino) return rotated[i + 1] ?? path;
  }
  // Ours was pruned: every rotated file still kept is newer than it.
  return rotated[0] ?? path;
}
