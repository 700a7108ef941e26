// One daemon per mailroom. The daemon holds `.mailroom/daemon.lock` (proper-lockfile) and records its
// pid in `.mailroom/daemon.json`. A second daemon refuses to start; a lock left by a daemon that was
// killed (its pid is gone) is broken at once instead of waiting for it to go stale.

import { join } from 'node:path';
import { pidAlive, readDaemonStatus } from '../src/daemon-status.js';
import { refused } from '../src/errors.js';
import type { Mailroom } from '../src/mailroom.js';
import { breakLock, holdLock } from '../src/store/lock.js';

const lockPath = (mr: Mailroom): string => join(mr.layout.stateDir, 'daemon');

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
