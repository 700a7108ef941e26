// The event log: one JSON object per line in .mailroom/events.jsonl, appended with a single write
// (O_APPEND), so lines from concurrent processes never interleave. Machine-local; never synced.

import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
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

export async function appendEvent(path: string, event: MailroomEvent): Promise<void> {
  const line = `${JSON.stringify(event)}\n`;
  try {
    await appendFile(path, line, { flag: 'a' });
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true });
    await appendFile(path, line, { flag: 'a' });
  }
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

export async function readEvents(path: string): Promise<MailroomEvent[]> {
  try {
    return parseEvents(await readFile(path, 'utf8'));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}
