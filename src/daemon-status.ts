// The daemon's status file, .mailroom/daemon.json: written by the daemon after every pass, read by
// `mailroom status` and by a second daemon deciding whether the first one is still alive.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mailroom } from './mailroom.js';
import { writeFileAtomic } from './store/atomic.js';

export interface DaemonStatus {
  pid: number;
  startedAt: string;
  state: 'running' | 'stopped';
  lastPassAt?: string;
  lastPassMs?: number;
  passes: number;
  routed: number;
  completed: number;
  escalated: number;
  reassigned: number;
  retried: number;
  unreadable: number;
  rescanMs: number;
  lastError?: string;
}

export const statusPath = (mr: Mailroom): string => join(mr.layout.stateDir, 'daemon.json');

export async function readDaemonStatus(mr: Mailroom): Promise<DaemonStatus | undefined> {
  try {
    return JSON.parse(await readFile(statusPath(mr), 'utf8')) as DaemonStatus;
  } catch {
    return undefined;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function writeDaemonStatus(mr: Mailroom, status: DaemonStatus): Promise<void> {
  await writeFileAtomic(statusPath(mr), `${JSON.stringify(status, null, 2)}\n`, { mkdir: true });
}
