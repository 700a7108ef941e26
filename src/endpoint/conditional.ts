// A write or a delete that happens only if the file still holds what the sync saw: the file's lock
// is taken on its side, the content re-checked under it, then the atomic write or the removal. The
// sync's apply stage runs these through any endpoint; a far agent runs the very same functions on
// its own side in one request (docs/sync.md, "The far agent"). Links are never written through.

import { sha256Hex as sha256 } from '../hash.js';
import type { Endpoint, EntryStat, WriteOptions } from './endpoint.js';

/** What a conditional step did; `skip` says why the file was left alone (for the next pass). */
export type Outcome = { done: 'written' | 'same' | 'removed' | 'absent' } | { skip: string };

/** How the file's lock is taken (the hub's apply bounds the wait by the pass's budget). */
export type TakeLock = (path: string) => ReturnType<Endpoint['lock']>;

/** How the current content's hash is known: from a trusted scan record, or by reading the file. */
export type HashNow = (path: string, current: EntryStat) => Promise<string>;

export const readHash =
  (e: Endpoint): HashNow =>
  async (path) =>
    sha256(await e.readFile(path));

/** How a conditional step looks and locks: by default it reads the file and takes its lock as is. */
export interface HoldsOptions {
  hashNow?: HashNow;
  takeLock?: TakeLock;
}

/** What else a put may wait for, started before its lock is taken (so it costs no round trip of its own). */
export interface PutOptions extends HoldsOptions {
  write?: WriteOptions;
  /**
   * A look beside the lock (apply's: has the task appeared in another box since the scan): a reason
   * there, awaited before the write, skips the put with that reason.
   */
  aside?: Promise<string | undefined>;
}

/** Replace (or create) `path` with `bytes` if it still holds `expect` (undefined: absent). */
export async function putIfHolds(
  e: Endpoint,
  path: string,
  bytes: Buffer,
  expect: string | undefined,
  opts: PutOptions = {},
): Promise<Outcome> {
  const { hashNow = readHash(e), takeLock = (p) => e.lock(p), write, aside } = opts;
  // A file that is not there yet is created without its lock where the endpoint can (link(2) never
  // replaces what appeared meanwhile); a writer that may have raced it is waited for and looked at.
  if (expect === undefined && e.createNew) {
    const why = await aside;
    if (why !== undefined) return { skip: why };
    const made = await e.createNew(path, bytes, write);
    if (made === 'created') return { done: 'written' };
    if (made === 'contended')
      return underLock(path, takeLock, async () => {
        const current = await e.stat(path);
        // Read, not a scan record: the file is newer than any scan.
        const now = current?.kind === 'file' ? sha256(await e.readFile(path)) : undefined;
        return now === sha256(bytes)
          ? { done: 'written' }
          : { skip: `${path} on ${e.label} changed during the sync; the next pass takes it` };
      });
  }
  // Where the endpoint can, the new bytes of a file that is there go to a temp file while the lock
  // is taken and the file looked at (a temp file is no one else's: writing it needs no lock), and are
  // renamed into place only under it. Not for a create: a first copy over SFTP measured slower with
  // it (every step's temp file queued on the server before any lock; docs/performance.md).
  const staged = expect === undefined ? undefined : e.stage?.(path, bytes, write);
  let committed = false;
  try {
    return await underLock(path, takeLock, async () => {
      const [current, why] = await Promise.all([e.stat(path), aside]);
      if (why !== undefined) return { skip: why };
      if (current?.kind === 'symlink')
        return { skip: `${path} on ${e.label} is a symbolic link: left alone` };
      const now = current ? await hashNow(path, current) : undefined;
      if (now === sha256(bytes)) return { done: 'same' };
      if (now !== expect)
        return { skip: `${path} on ${e.label} changed during the sync; the next pass takes it` };
      if (staged) {
        committed = true; // a failed commit removes its temp file itself
        await staged.commit();
      } else await e.writeFileAtomic(path, bytes, write);
      return { done: 'written' };
    });
  } finally {
    if (staged && !committed) await staged.discard();
  }
}

async function underLock(path: string, takeLock: TakeLock, work: () => Promise<Outcome>): Promise<Outcome> {
  const release = await takeLock(path);
  try {
    return await work();
  } finally {
    await release().catch(() => {});
  }
}

/** Remove `path` if it still holds `expect`. */
export async function removeIfHolds(
  e: Endpoint,
  path: string,
  expect: string,
  opts: HoldsOptions = {},
): Promise<Outcome> {
  const { hashNow = readHash(e), takeLock = (p) => e.lock(p) } = opts;
  return underLock(path, takeLock, async () => {
    const current = await e.stat(path);
    if (!current) return { done: 'absent' };
    if (current.kind !== 'file') return { skip: `${path} on ${e.label} is not a plain file: left alone` };
    if ((await hashNow(path, current)) !== expect)
      return { skip: `${path} on ${e.label} changed during the sync; not removed` };
    await e.remove(path);
    return { done: 'removed' };
  });
}
