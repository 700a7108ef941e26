// Reading the event log for `mailroom log`: the last N events, events since a time, one task's events,
// and following new ones as they are appended, across rotations (src/events/log.ts).

import { type FileHandle, open, readFile, stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
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
 * (portable; a missed wake-up costs one interval). When the file was rotated, it reads what is left
 * of the old file, then every file rotated after it (several rotations can happen between two
 * polls), then goes on with the current file, so nothing appended in between is skipped.
 */
export async function followEvents(
  path: string,
  emit: (e: MailroomEvent) => void,
  opts: { signal?: AbortSignal; intervalMs?: number; fromStart?: boolean } = {},
): Promise<void> {
  let handle = await openIfPresent(path, opts.signal);
  let offset = opts.fromStart ? 0 : ((await handle?.stat())?.size ?? 0);
  let carry = '';
  const emitText = (text: string) => {
    const all = carry + text;
    const cut = all.lastIndexOf('\n') + 1;
    carry = all.slice(cut);
    for (const e of parseEvents(all.slice(0, cut))) emit(e);
  };
  const drain = async () => {
    if (!handle) return;
    const { size } = await handle.stat();
    if (size < offset) offset = 0; // truncated by hand
    if (size === offset) return;
    const buf = Buffer.alloc(size - offset);
    await handle.read(buf, 0, buf.length, offset);
    offset = size;
    emitText(buf.toString('utf8'));
  };
  try {
    while (!opts.signal?.aborted) {
      await drain();
      const current = await stat(path).catch(() => undefined);
      const mine = handle ? await handle.stat() : undefined;
      if (current && current.ino !== mine?.ino) {
        await drain(); // the rest of the rotated file
        await handle?.close();
        handle = await openAfterRotations(path, mine?.ino, emitText);
        offset = 0;
        continue;
      }
      await delay(opts.intervalMs ?? 250, undefined, { signal: opts.signal }).catch(() => undefined);
    }
  } finally {
    await handle?.close();
  }
}

/**
 * Reads the files rotated after the one with inode `last` (oldest first), then opens the current
 * file; if another rotation happened meanwhile, reads that one too before settling.
 */
async function openAfterRotations(
  path: string,
  last: number | undefined,
  emitText: (text: string) => void,
): Promise<FileHandle> {
  let consumed = last;
  for (;;) {
    const after = await rotatedAfter(path, consumed);
    if (after !== undefined) {
      emitText(await readFile(after.file, 'utf8').catch(() => ''));
      consumed = after.ino;
      continue;
    }
    const handle = await open(path, 'r');
    // Settled unless a file was rotated after the consumed one meanwhile (other than this one).
    const late = await rotatedAfter(path, consumed);
    if (late === undefined || late.ino === (await handle.stat()).ino) return handle;
    await handle.close();
  }
}

/** The rotated file right after the one with inode `ino`; none when it is the newest or is gone. */
async function rotatedAfter(
  path: string,
  ino: number | undefined,
): Promise<{ file: string; ino: number } | undefined> {
  if (ino === undefined) return undefined;
  const files = await rotatedFiles(path);
  const inodes = await Promise.all(files.map(async (f) => (await stat(f).catch(() => undefined))?.ino));
  const at = inodes.indexOf(ino);
  const file = at < 0 ? undefined : files[at + 1];
  const next = at < 0 ? undefined : inodes[at + 1];
  return file === undefined || next === undefined ? undefined : { file, ino: next };
}

async function openIfPresent(path: string, signal?: AbortSignal): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' && !signal?.aborted) return undefined;
    throw err;
  }
}
