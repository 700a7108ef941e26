// The only module that talks to proper-lockfile. Every read-modify-write of a task file runs inside
// `withLock`, which holds `<file>.lock` (a directory, the protocol proper-lockfile and our SFTP side
// share). A lock that was lost while held (stale-taken by another process after a long stall) is
// noticed before the write commits: the write is refused rather than clobbering someone else's.
//
// A lock whose holder was killed is taken over at once, not after staleMs: beside the lock folder
// its holder writes `.<name>.lock-owner` (host, pid, and the lock folder's inode and birth time). A
// waiter that finds the owner on this host dead, and the lock folder still the one it recorded,
// removes it. The birth time matters: a folder made after the old one was removed often gets the
// same inode at once, and that folder is a live holder's lock. Without a birth time (a file system
// that has none) the note is never enough, and the stale rule decides. The
// owner note is only a hint: without one (another machine, a crash before it was written, an older
// mailroom) the stale rule decides, as before. The lock folder itself stays empty, so every side of
// the protocol (proper-lockfile's rmdir, the SFTP endpoint's) keeps working.

import { lstat, readFile, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type lockfileApi from 'proper-lockfile';
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

/**
 * proper-lockfile, loaded by the first lock taken: it loads graceful-fs, streams and assert, 7 ms
 * that readers (`ls`, `show`, the board's first page) never need.
 */
let lockfile: typeof lockfileApi | undefined;
const lockfileLib = async () => (lockfile ??= (await import('proper-lockfile')).default);

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
        release = await (await lockfileLib()).lock(path, {
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
        if (await brokeDeadOwnersLock(path)) continue;
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
    await writeOwner(path);
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
      await unlink(ownerPath(path)).catch(() => {});
      await release().catch(() => {}); // releasing a compromised lock fails; the original error matters more
    }
  };
}

/** The owner note of the lock on `path`: a dot name, so never a task and never synced. */
export const ownerPath = (path: string): string => join(dirname(path), `.${basename(path)}.lock-owner`);

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
};

/** Best effort: a missing note only means a dead holder is found by the stale rule instead. */
async function writeOwner(path: string): Promise<void> {
  const st = await lstat(`${path}.lock`).catch(() => undefined);
  if (st)
    await writeFile(ownerPath(path), `${hostname()} ${process.pid} ${st.ino} ${st.birthtimeMs}\n`).catch(
      () => {},
    );
}

/**
 * The lock on `path` is held by a process of this host that is gone: remove it (and its note) and
 * return true. The lock folder's inode and birth time must be the ones the note recorded, so a lock
 * another process took meanwhile (even in a folder that reused the inode) is left alone.
 */
async function brokeDeadOwnersLock(path: string): Promise<boolean> {
  const note = await readFile(ownerPath(path), 'utf8').catch(() => undefined);
  const [host, pidText, ino, born] = note?.trim().split(' ') ?? [];
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid || alive(pid))
    return false;
  const st = await lstat(`${path}.lock`).catch(() => undefined);
  if (
    !st?.isDirectory() ||
    String(st.ino) !== ino ||
    !(st.birthtimeMs > 0) ||
    String(st.birthtimeMs) !== born
  )
    return false;
  try {
    await rmdir(`${path}.lock`);
  } catch {
    return false; // gone already, or not ours to judge: the stale rule decides
  }
  await unlink(ownerPath(path)).catch(() => {});
  return true;
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
    return await (await lockfileLib()).lock(path, {
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
