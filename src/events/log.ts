// The event log: one JSON object per line in .mailroom/events.jsonl, appended with a single write
// (O_APPEND), so lines from concurrent processes never interleave. Machine-local; never synced.
//
// It rotates by size: when an append leaves the file over `maxBytes`, the file is renamed to
// events.<UTC stamp>-<pid>-<n>.jsonl and the next append starts a new one; only the newest `keep` rotated
// files are kept. No lock is needed: a writer that opened the file before the rename appends to the
// renamed file (its line is kept), a rotator first checks that the name still points at the file it
// measured (so two processes do not rotate one file twice), and rotated names sort in time order.

import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoCode } from '../errors.js';

export interface MailroomEvent {
  at: string;
  type: string;
  id?: string;
  agent?: string;
  by?: string;
  from?: string;
  to?: string;
  path?: string;
  note?: string;
  [key: string]: unknown;
}

export interface LogLimits {
  /** Rotate when the current file is larger than this. */
  maxBytes: number;
  /** How many rotated files to keep besides the current one. */
  keep: number;
}

/** At most 4 MB + 4 x 4 MB on disk (about 100,000 events), and `log` never reads more than that. */
export const DEFAULT_LOG_LIMITS: LogLimits = { maxBytes: 4 * 1024 * 1024, keep: 4 };

const ROTATED = /^events\.\d{8}T\d{9}Z-\d+-\d+\.jsonl$/;
let rotations = 0; // with the pid, keeps two rotations in one millisecond from sharing a name

export async function appendEvent(
  path: string,
  event: MailroomEvent,
  limits: LogLimits = DEFAULT_LOG_LIMITS,
): Promise<void> {
  const line = `${JSON.stringify(event)}\n`;
  const handle = await open(path, 'a').catch(async (err: unknown) => {
    if (errnoCode(err) !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true });
    return open(path, 'a');
  });
  let size: number;
  let ino: number;
  try {
    await handle.write(line);
    ({ size, ino } = await handle.stat());
  } finally {
    await handle.close();
  }
  if (size > limits.maxBytes) await rotate(path, ino, limits.keep);
}

async function rotate(path: string, ino: number, keep: number): Promise<void> {
  const now = await stat(path).catch(() => undefined);
  if (now?.ino !== ino) return; // another process rotated it already
  const stamp = new Date().toISOString().replace(/[-:.]/g, '');
  // Names sort in rotation order (rotatedFiles): the counter is padded, so a 10th rotation within
  // one millisecond does not sort before the 9th.
  const name = `events.${stamp}-${process.pid}-${String(++rotations).padStart(9, '0')}.jsonl`;
  await rename(path, join(dirname(path), name)).catch((err: unknown) => {
    if (errnoCode(err) !== 'ENOENT') throw err;
  });
  const rotated = await rotatedFiles(path);
  for (const file of rotated.slice(0, Math.max(0, rotated.length - keep)))
    await unlink(file).catch((err: unknown) => {
      if (errnoCode(err) !== 'ENOENT') throw err;
    });
}

/** The rotated files beside `path`, oldest first. */
export async function rotatedFiles(path: string): Promise<string[]> {
  const dir = dirname(path);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => ROTATED.test(n) && n !== basename(path))
    .sort()
    .map((n) => join(dir, n));
}

/** Parse the log text; a torn or foreign line is skipped, not fatal. */
export function parseEvents(text: string): MailroomEvent[] {
  const out: MailroomEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const value = JSON.parse(line) as unknown;
      if (typeof value === 'object' && value !== null && 'type' in value) out.push(value as MailroomEvent);
    } catch {
      // A line cut by a crash mid-append: skip it.
    }
  }
  return out;
}

export async function readEventFile(path: string): Promise<MailroomEvent[]> {
  try {
    return parseEvents(await readFile(path, 'utf8'));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}

/** Every kept event, oldest first: the rotated files, then the current one. */
export async function readEvents(path: string): Promise<MailroomEvent[]> {
  const out: MailroomEvent[] = [];
  for (const file of [...(await rotatedFiles(path)), path]) out.push(...(await readEventFile(file)));
  return out;
}
