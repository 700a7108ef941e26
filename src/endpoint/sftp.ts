// The Endpoint contract over SFTP (a session from src/ssh/connect.ts). Invariants as for the local
// endpoint — links are never followed, writes are atomic — with what SFTP v3 allows: a write goes to
// `.<name>.tmp-<random>`, is fsynced (fsync@openssh.com) and renamed over the target with
// posix-rename@openssh.com (plain SFTP rename refuses an existing target, and a delete-then-rename
// would open a window with no file at all). A connection cut at any byte leaves the old file whole.
// Independent requests are issued together: SFTP pipelines them on one channel, so checks of parent
// folders cost no extra round trip where they can run alongside the real request.

import { DEFAULT_LIMITS } from '../config/limits.js';
import { MailroomError, networkError, notFound, refused, usageError } from '../errors.js';
import { mapLimit } from '../map-limit.js';
import type { SshConnection } from '../ssh/connect.js';
import { pooledSession } from '../ssh/sftp-pool.js';
import {
  type BoundedRead,
  isSftpFailure,
  type RemoteHandle,
  SftpError,
  type SftpSession,
} from '../ssh/sftp-session.js';
import { TooBigError } from '../store/read-file.js';
import type {
  Endpoint,
  EntryKind,
  EntryStat,
  LockOptions,
  ReadLimit,
  ReleaseLock,
  Staged,
  WriteOptions,
} from './endpoint.js';
import { acquireLock, type LockFs } from './lock-dir.js';
import { notADir, notAFile, notEmpty } from './refusals.js';
import { joinRel, parseRelPath, tempNameFor } from './rel-path.js';

export interface SftpEndpointOptions {
  /** The folder on the far host: absolute, or relative to the login folder (`~/mailroom` or `mailroom`). */
  readonly root: string;
  /** For messages, e.g. `vps:/home/deploy/mailroom`. */
  readonly label: string;
  /** Write requests in flight per file; default 8. */
  readonly concurrency?: number;
  /** Runs in close() after the SFTP channel ended, e.g. to close a connection the endpoint owns. */
  readonly onClose?: () => Promise<void>;
}

/** SFTP channels an endpoint opens on its connection (each a far sftp-server process; sftp-pool.ts). */
const SFTP_CHANNELS = 4;

/**
 * An endpoint on new SFTP channels of `conn`: one at first, the others opened when the pass gets
 * busy (sftp-pool.ts; a server that allows fewer sessions gives fewer). close() ends the channels,
 * not the connection.
 */
export async function openSftpEndpoint(
  conn: SshConnection,
  opts: { root: string; label?: string },
): Promise<Endpoint> {
  const more = () =>
    Promise.allSettled(Array.from({ length: SFTP_CHANNELS - 1 }, () => conn.sftp())).then((all) =>
      all.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : [])),
    );
  return sftpEndpoint(pooledSession(await conn.sftp(), more), {
    root: opts.root,
    label: opts.label ?? `${conn.label}:${opts.root}`,
  });
}

export function sftpEndpoint(session: SftpSession, opts: SftpEndpointOptions): Endpoint {
  return new SftpEndpoint(session, normaliseRoot(opts.root, opts.label), opts);
}

/** The promise in flight for `key`, or `start()`'s, kept in `inFlight` until it settles. */
function shared<T>(inFlight: Map<string, Promise<T>>, key: string, start: () => Promise<T>): Promise<T> {
  let p = inFlight.get(key);
  if (p === undefined) {
    p = start().finally(() => inFlight.delete(key));
    inFlight.set(key, p);
  }
  return p;
}

function normaliseRoot(root: string, label: string): string {
  // SFTP resolves relative paths against the login folder, which is what `~` means there.
  let r = root === '~' ? '.' : root.startsWith('~/') ? root.slice(2) : root;
  while (r.length > 1 && r.endsWith('/')) r = r.slice(0, -1);
  if (r === '' || r.includes('\0'))
    throw usageError(`${label}: invalid far-side root ${JSON.stringify(root)}`);
  return r;
}

class SftpEndpoint implements Endpoint {
  readonly label: string;
  /** Steps in flight: each is a few sequential requests, so many at once fill the round trips. */
  readonly parallelism = 1024;
  private readonly concurrency: number;
  /** Relative folders (below the root) seen to be real folders in this pass; see parents(). */
  private readonly realDirs = new Set<string>();
  /** Folders being looked at for parents(), or made by mkdirSegments(): asked for once at a time. */
  private readonly looking = new Map<string, Promise<EntryKind | undefined>>();
  private readonly making = new Map<string, Promise<void>>();

  constructor(
    private readonly session: SftpSession,
    private readonly root: string,
    private readonly opts: SftpEndpointOptions,
  ) {
    this.label = opts.label;
    this.concurrency = opts.concurrency ?? 8;
  }

  private remote(rel: string): string {
    if (rel === '') return this.root;
    return this.root === '/' ? `/${rel}` : `${this.root}/${rel}`;
  }

  // Every SFTP failure leaves here as a MailroomError: a cut connection or a refusing server is a
  // sync failure (exit 4) whose message names the endpoint, the path and what was being done.
  private fail(err: unknown, what: string): MailroomError {
    this.realDirs.clear();
    if (err instanceof MailroomError) return err;
    if (err instanceof SftpError) {
      const why =
        err.failure === 'connectionLost'
          ? 'the connection was lost'
          : err.failure === 'permissionDenied'
            ? 'permission denied'
            : err.failure === 'unsupported'
              ? 'the SSH server lacks an OpenSSH SFTP extension mailroom needs (fsync@openssh.com, posix-rename@openssh.com)'
              : (err.cause as Error | undefined)?.message || err.message;
      return networkError(`${this.label}: ${what} failed: ${why}`, 'the next sync pass retries', err);
    }
    return networkError(`${this.label}: ${what} failed: ${(err as Error).message}`, undefined, err);
  }

  private async lstatRel(rel: string): Promise<EntryStat | undefined> {
    try {
      const st = await this.session.lstat(this.remote(rel));
      return { name: rel.slice(rel.lastIndexOf('/') + 1), ...st };
    } catch (err) {
      if (isSftpFailure(err, 'noSuchFile')) return undefined;
      throw this.fail(err, `lstat ${rel}`);
    }
  }

  private kindOf = async (rel: string): Promise<EntryKind | undefined> => (await this.lstatRel(rel))?.kind;

  newPass(): void {
    this.realDirs.clear();
  }

  /**
   * Refuses a parent folder of `segments` that is a link or not a folder; the ones not known yet are
   * looked at together (one round trip). A missing one is fine (nothing below it exists). Folders
   * seen to be real are remembered for the pass (newPass), as the local endpoint does: most paths of
   * a pass share their parents, and each look costs a round trip here. Any failure forgets them all.
   */
  private async parents(segments: readonly string[]): Promise<void> {
    let known = segments.length - 1;
    while (known > 0 && !this.realDirs.has(joinRel(segments.slice(0, known)))) known--;
    const parents: string[] = [];
    for (let i = known + 1; i < segments.length; i++) parents.push(joinRel(segments.slice(0, i)));
    if (parents.length === 0) return;
    const kinds = await Promise.all(parents.map((p) => this.lookAtFolder(p)));
    let real = true; // every folder above this one is: the remembered ones always form a prefix
    kinds.forEach((kind, i) => {
      if (kind !== undefined && kind !== 'dir') throw this.forget(notADir(this.label, parents[i]!, kind));
      real &&= kind === 'dir';
      if (real) this.realDirs.add(parents[i]!);
    });
  }

  /** The kind of `rel`, one look at a time: many steps that start together share the answer. */
  private lookAtFolder(rel: string): Promise<EntryKind | undefined> {
    return shared(this.looking, rel, () => this.kindOf(rel));
  }

  /** `segments` was just seen to be a real folder: remembered when every folder above it is. */
  private remember(segments: readonly string[]): void {
    if (segments.length <= 1 || this.realDirs.has(joinRel(segments.slice(0, -1))))
      this.realDirs.add(joinRel(segments));
  }

  /** Forgets every folder seen in this pass (the tree may have changed under us); gives `err` back. */
  private forget<E>(err: E): E {
    this.realDirs.clear();
    return err;
  }

  async list(relDir: string): Promise<EntryStat[]> {
    const segments = parseRelPath(relDir, this.label, { allowRoot: true });
    const rel = joinRel(segments);
    // readdir follows a link, so the folder itself is lstat'ed alongside and a link refused before use.
    const [, self, entries] = await Promise.all([
      this.parents(segments),
      this.lstatRel(rel),
      this.session.readdir(this.remote(rel)).catch((err: unknown) => {
        if (isSftpFailure(err, 'noSuchFile')) return undefined;
        // Reading a non-folder fails too; the lstat beside it explains why, so only real failures go up.
        if (isSftpFailure(err, 'failure')) return undefined;
        throw this.fail(err, `list ${relDir || '/'}`);
      }),
    ]);
    if (self === undefined) return [];
    if (self.kind !== 'dir') throw this.forget(notADir(this.label, relDir, self.kind));
    this.remember(segments);
    if (entries === undefined)
      throw this.fail(new Error('the server refused to read the folder'), `list ${relDir}`);
    return entries.map((e) => ({ name: e.name, ...e.stat }));
  }

  async stat(rel: string): Promise<EntryStat | undefined> {
    const segments = parseRelPath(rel, this.label, { allowRoot: true });
    const [, st] = await Promise.all([this.parents(segments), this.lstatRel(joinRel(segments))]);
    return st;
  }

  async readFile(rel: string, limit?: ReadLimit): Promise<Buffer> {
    const segments = parseRelPath(rel, this.label);
    // SFTP v3 has no O_NOFOLLOW: lstat first. A link swapped in between the two requests is the one
    // race left; the scan that asked for this file saw a regular file there a moment ago.
    const [, st] = await Promise.all([this.parents(segments), this.lstatRel(rel)]);
    // A file missing or not a file may mean a folder above it changed: looked at again next time.
    if (st === undefined) throw this.forget(notFound(`${this.label}: ${rel} does not exist`));
    if (st.kind !== 'file') throw this.forget(notAFile(this.label, rel, st.kind));
    const maxBytes = limit?.maxBytes ?? DEFAULT_LIMITS.attachmentFile;
    const key = limit?.limitKey ?? 'limits.attachment_file';
    // Claimed sizes are checked before a byte is read (a 5 GB sparse file costs one lstat).
    if (st.size > maxBytes) throw new TooBigError(`${this.label}: ${rel}`, st.size, maxBytes, key);
    let got: BoundedRead;
    try {
      got = await this.session.readFileBounded(this.remote(rel), maxBytes);
    } catch (err) {
      if (isSftpFailure(err, 'noSuchFile'))
        throw this.forget(notFound(`${this.label}: ${rel} does not exist`));
      throw this.fail(err, `read ${rel}`);
    }
    if (got.kind !== 'file') throw this.forget(notAFile(this.label, rel, got.kind));
    if (got.bytes === undefined) throw new TooBigError(`${this.label}: ${rel}`, got.size, maxBytes, key);
    return got.bytes;
  }

  async writeFileAtomic(rel: string, data: Buffer, opts?: WriteOptions): Promise<void> {
    await this.stage(rel, data, opts).commit();
  }

  stage(rel: string, data: Buffer, opts?: WriteOptions): Staged {
    const segments = parseRelPath(rel, this.label);
    const dir = segments.slice(0, -1);
    const temp = joinRel([...dir, tempNameFor(segments.at(-1)!)]);
    // The parent check runs alongside the create and the writes; nothing is renamed into place before
    // it passed, so at worst a temp file (ours, removed below) was written through a link.
    const parentsChecked = this.parents(segments).then(
      () => undefined,
      (err: unknown) => err,
    );
    const written = (async () => {
      let handle: RemoteHandle | undefined;
      try {
        try {
          handle = await this.session.createExclusive(this.remote(temp));
        } catch (err) {
          if (!isSftpFailure(err, 'noSuchFile')) throw err;
          const bad = await parentsChecked;
          if (bad !== undefined) throw bad;
          await this.mkdirSegments(dir);
          handle = await this.session.createExclusive(this.remote(temp));
        }
        const h = handle;
        handle = undefined; // closed by writeSyncClose, whatever happens there
        await this.writeSyncClose(h, data, opts?.mtimeMs);
      } catch (err) {
        await this.discard(handle, temp);
        throw this.fail(err, `write ${rel}`);
      }
    })();
    written.catch(() => {}); // thrown by commit; a discarded stage needs no report
    return {
      commit: async () => {
        await written;
        try {
          const bad = await parentsChecked;
          if (bad !== undefined) throw bad;
          await this.session.posixRename(this.remote(temp), this.remote(rel));
        } catch (err) {
          await this.discard(undefined, temp);
          throw this.fail(err, `write ${rel}`);
        }
      },
      // A write that failed removed its temp file already.
      discard: () =>
        written.then(
          () => this.discard(undefined, temp),
          () => undefined,
        ),
    };
  }

  /**
   * Writes `data`, sets the mtime if asked (WriteOptions.mtimeMs, whole seconds), fsyncs and closes
   * `handle`, in one round trip where the data fits in one burst of requests: an SFTP server
   * processes the requests on one file in the order received, with the results of sending them one
   * at a time (the filexfer drafts), so the mtime follows the writes, the fsync the mtime and the
   * close the fsync. A failed write still gets its fsync and close: the caller then renames nothing
   * and removes the temp file. Larger data: chunks several at a time, then the rest.
   */
  private async writeSyncClose(handle: RemoteHandle, data: Buffer, mtimeMs?: number): Promise<void> {
    const s = this.session;
    const size = s.maxWriteBytes;
    const offsets: number[] = [];
    for (let off = 0; off < data.length; off += size) offsets.push(off);
    const write = (off: number) => s.write(handle, data.subarray(off, off + size), off);
    const stamp = () => (mtimeMs === undefined ? Promise.resolve() : s.setHandleTimes(handle, mtimeMs));
    const close = () => s.closeHandle(handle);
    let steps: Promise<unknown>[];
    if (offsets.length <= this.concurrency)
      steps = [...offsets.map(write), stamp(), s.fsync(handle), close()];
    else {
      // The mtime and the fsync must not overtake chunks not yet sent: they go after the last of them.
      const written = mapLimit(offsets, this.concurrency, write);
      const stamped = written.then(stamp);
      const synced = written.then(() => s.fsync(handle));
      steps = [written, stamped, synced, synced.then(close, close)];
    }
    for (const r of await Promise.allSettled(steps)) if (r.status === 'rejected') throw r.reason;
  }

  // Best effort: on a dead connection the temp file stays; its name marks it as debris for doctor.
  private async discard(handle: RemoteHandle | undefined, temp: string): Promise<void> {
    if (handle !== undefined) await this.session.closeHandle(handle).catch(() => undefined);
    await this.session.unlink(this.remote(temp)).catch(() => undefined);
  }

  async remove(rel: string): Promise<void> {
    const segments = parseRelPath(rel, this.label);
    const [, st] = await Promise.all([this.parents(segments), this.lstatRel(rel)]);
    if (st === undefined) return;
    try {
      if (st.kind === 'dir') {
        this.realDirs.clear();
        await this.session.rmdir(this.remote(rel));
      } else await this.session.unlink(this.remote(rel));
    } catch (err) {
      if (isSftpFailure(err, 'noSuchFile')) return;
      if (st.kind === 'dir' && isSftpFailure(err, 'failure')) throw notEmpty(this.label, rel);
      throw this.fail(err, `remove ${rel}`);
    }
  }

  async mkdirp(rel: string): Promise<void> {
    await this.mkdirSegments(parseRelPath(rel, this.label, { allowRoot: true }));
  }

  // All prefixes are lstat'ed at once (one round trip); then the missing ones are made top-down.
  // SFTP v3 has no EEXIST: a failed mkdir is judged by looking at what is there now.
  private mkdirSegments(segments: readonly string[]): Promise<void> {
    // Many steps of a first copy find the same folder missing at once: one of them makes it.
    return shared(this.making, joinRel(segments), () => this.makeSegments(segments));
  }

  private async makeSegments(segments: readonly string[]): Promise<void> {
    const prefixes = segments.map((_, i) => joinRel(segments.slice(0, i + 1)));
    const kinds = await Promise.all(prefixes.map((p) => (this.realDirs.has(p) ? 'dir' : this.kindOf(p))));
    for (const [i, prefix] of prefixes.entries()) {
      const kind = kinds[i];
      if (kind !== 'dir') {
        if (kind !== undefined) throw this.forget(notADir(this.label, prefix, kind));
        try {
          await this.session.mkdir(this.remote(prefix));
        } catch (err) {
          const now = await this.kindOf(prefix);
          if (now !== 'dir') {
            if (now !== undefined) throw this.forget(notADir(this.label, prefix, now));
            throw this.fail(err, `mkdir ${prefix}`);
          }
        }
      }
      this.remember(segments.slice(0, i + 1)); // made here, or seen to be a real folder
    }
  }

  async lock(rel: string, opts?: LockOptions): Promise<ReleaseLock> {
    const segments = parseRelPath(rel, this.label);
    await this.parents(segments);
    return acquireLock(this.lockFs(), joinRel(segments), opts);
  }

  private lockFs(): LockFs {
    const s = this.session;
    const mkdirOnce = async (rel: string) => {
      try {
        await s.mkdir(this.remote(rel));
        return 'created' as const;
      } catch (err) {
        if (isSftpFailure(err, 'noSuchFile')) return 'noParent' as const;
        if (isSftpFailure(err, 'failure')) return 'exists' as const;
        throw this.fail(err, `mkdir ${rel}`);
      }
    };
    const mtimeOf = async (rel: string) => (await this.lstatRel(rel))?.mtimeMs;
    return {
      label: this.label,
      mtimeResolutionMs: 1000,
      mkdirOnce,
      // One round trip for both: the server answers the requests of one channel in order.
      mkdirThenMtime: async (rel) => {
        const [made, mtime] = await Promise.all([mkdirOnce(rel), mtimeOf(rel)]);
        return { made, mtime };
      },
      mkdirp: (rel) => this.mkdirp(rel),
      mtimeOf,
      setMtime: (rel, ms) =>
        s
          .setTimes(this.remote(rel), ms)
          .catch((err: unknown) => Promise.reject(this.fail(err, `touch ${rel}`))),
      rmdir: async (rel) => {
        try {
          await s.rmdir(this.remote(rel));
        } catch (err) {
          if (isSftpFailure(err, 'noSuchFile')) return;
          if (isSftpFailure(err, 'failure'))
            throw refused(`${this.label}: the lock ${rel} holds files; remove it by hand`);
          throw this.fail(err, `rmdir ${rel}`);
        }
      },
      clockNow: (nearRel) => this.farClock(nearRel),
    };
  }

  // The far side's "now" is the mtime it gives a file we just created there (never our own clock).
  private async farClock(nearRel: string): Promise<number> {
    const dir = nearRel.includes('/') ? nearRel.slice(0, nearRel.lastIndexOf('/')) : '';
    const probe = joinRel([...(dir === '' ? [] : [dir]), tempNameFor('clock')]);
    try {
      const h = await this.session.createExclusive(this.remote(probe));
      await this.session.closeHandle(h);
      return (await this.session.lstat(this.remote(probe))).mtimeMs;
    } catch (err) {
      throw this.fail(err, `read the clock beside ${nearRel}`);
    } finally {
      await this.session.unlink(this.remote(probe)).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.session.end();
    await this.opts.onClose?.();
  }
}
