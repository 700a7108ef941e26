// One daemon per mailroom. The daemon holds `.mailroom/daemon.lock` (proper-lockfile) and records its
// pid in `.mailroom/daemon.json`. A second daemon refuses to start; a lock left by a daemon that was
// killed (its pid is gone) is broken at once instead of waiting for it to go stale.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { refused } from '../src/errors.js';
import type { Mailroom } from '../src/mailroom.js';
import { writeFileAtomic } from '../src/store/atomic.js';
import { breakLock, holdLock } from '../src/store/lock.js';

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
const lockPath = (mr: Mailroom): string => join(mr.layout.stateDir, 'daemon');

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

/** Take the single-instance lock, or refuse (exit 3) naming the daemon that holds it. */
export async function acquireInstance(
  mr: Mailroom,
  onLost: (err: Error) => void,
  say: (line: string) => void = () => {},
): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const release = await holdLock(lockPath(mr), onLost);
    if (release) return release;
    const other = await readDaemonStatus(mr);
    if (other && other.pid !== process.pid && pidAlive(other.pid)) {
      throw refused(
        `another mailroom daemon (pid ${other.pid}) is already running on ${mr.layout.root}`,
        'stop it first (kill -TERM), or use `mailroom status` to see what it is doing',
      );
    }
    // Its holder is gone (crashed or killed): take over at once rather than wait for it to go stale.
    say(`took over the lock of a daemon that is gone${other ? ` (pid ${other.pid})` : ''}`);
    await breakLock(lockPath(mr));
  }
  throw refused(
    `could not take the daemon lock in ${mr.layout.stateDir}`,
    'another daemon is starting; try again',
  );
}
