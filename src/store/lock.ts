// The only module that talks to proper-lockfile. Every read-modify-write of a task file runs inside
// `withLock`, which holds `<file>.lock` (a directory, the protocol proper-lockfile and our SFTP side
// share). A lock that was lost while held (stale-taken by another process after a long stall) is
// noticed before the write commits: the write is refused rather than clobbering someone else's.

import { rm } from 'node:fs/promises';
import lockfile from 'proper-lockfile';
import { errnoCode, refused } from '../errors.js';

export interface LockGuard {
  /** Throws if the lock was compromised since it was taken; call right before committing a write. */
  assertHeld(): void;
}

export type Locker = <T>(path: string, fn: (guard: LockGuard) => Promise<T>) => Promise<T>;

export interface LockOptions {
  /** How long to wait for a lock someone else holds before giving up (exit 3). */
  timeoutMs?: number;
  /** A lock not refreshed for this long belongs to a dead process and may be taken over. */
  staleMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function fileLocker(opts: LockOptions = {}): Locker {
  const timeoutMs = opts.timeoutMs ?? Number(process.env.MAILROOM_LOCK_TIMEOUT_MS ?? 30_000);
  const staleMs = opts.staleMs ?? 10_000;
  return async (path, fn) => {
    let compromised: Error | undefined;
    const deadline = Date.now() + timeoutMs;
    let release: (() => Promise<void>) | undefined;
    let delay = 2;
    while (!release) {
      try {
        release = await lockfile.lock(path, {
          realpath: false,
          stale: staleMs,
          update: Math.floor(staleMs / 2),
          retries: 0,
          onCompromised: (err) => {
            compromised = err;
          },
        });
      } catch (err) {
        if (errnoCode(err) !== 'ELOCKED') throw err;
        if (Date.now() >= deadline) {
          throw refused(
            `${path} is locked by another mailroom process (waited ${Math.round(timeoutMs / 1000)}s)`,
            'try again; if no mailroom process is running, `mailroom doctor` lists stale locks',
          );
        }
        await sleep(delay + Math.random() * delay);
        delay = Math.min(delay * 2, 50);
      }
    }
    const guard: LockGuard = {
      assertHeld() {
        if (compromised)
          throw refused(
            `lost the lock on ${path} while working (${compromised.message}); nothing was written`,
          );
      },
    };
    try {
      return await fn(guard);
    } finally {
      await release().catch(() => {}); // releasing a compromised lock fails; the original error matters more
    }
  };
}

/** Take several locks in sorted order (so two processes never wait on each other crosswise). */
export async function withLocks<T>(
  locker: Locker,
  paths: string[],
  fn: (guards: LockGuard[]) => Promise<T>,
): Promise<T> {
  const sorted = [...new Set(paths)].sort();
  const guards: LockGuard[] = [];
  const step = async (i: number): Promise<T> => {
    if (i === sorted.length) return fn(guards);
    return locker(sorted[i]!, async (g) => {
      guards.push(g);
      return step(i + 1);
    });
  };
  return step(0);
}

/** No locking at all. Exists only so a test can show that the lock is what prevents lost updates. */
export const unsafeNoLocker: Locker = (_path, fn) => fn({ assertHeld() {} });

/**
 * Hold a lock for a long time (the daemon's single-instance lock). Returns undefined when another
 * live process holds it. `onLost` runs if the lock is ever compromised while held.
 */
export async function holdLock(
  path: string,
  onLost: (err: Error) => void,
): Promise<(() => Promise<void>) | undefined> {
  try {
    return await lockfile.lock(path, {
      realpath: false,
      stale: 10_000,
      update: 2_000,
      retries: 0,
      onCompromised: onLost,
    });
  } catch (err) {
    if (errnoCode(err) === 'ELOCKED') return undefined;
    throw err;
  }
}

/** Remove a lock whose holder is known to be dead (checked by the caller, e.g. by pid). */
export async function breakLock(path: string): Promise<void> {
  // proper-lockfile's unlock() only releases locks this process holds; the lock is its `<path>.lock` folder.
  await rm(`${path}.lock`, { recursive: true, force: true });
}
