// The transport the sync engine sees: one folder tree, local or on a far host, addressed only by
// POSIX paths relative to its root. Invariants every implementation keeps (test/ssh/endpoint-contract
// checks both): no path escapes the root (absolute paths, empty, `.` and `..` segments are refused
// before any IO, and a symbolic link is never followed — not as the target, not as a parent folder);
// a reader never sees half a file (writes are temp + fsync + rename); locks follow proper-lockfile's
// `<file>.lock` directory protocol, so local commands and far-side mailroom processes honour them.

import type { ReadLimit } from '../store/read-file.js';

export type { ReadLimit };

export type EntryKind = 'file' | 'dir' | 'symlink' | 'other';

export interface EntryStat {
  readonly name: string;
  readonly kind: EntryKind;
  readonly size: number;
  /** From the endpoint's own clock (whole seconds over SFTP). Never compare across endpoints. */
  readonly mtimeMs: number;
}

export interface LockOptions {
  /** A lock whose mtime is older than this (on the endpoint's own clock) is stale. Default 10 s. */
  readonly staleMs?: number;
  /** Give up with `refused` after this long. Default staleMs + 5 s, so a crashed holder is outwaited. */
  readonly timeoutMs?: number;
}

export interface WriteOptions {
  /**
   * Set the file's mtime to this before it appears at its name (over SFTP whole seconds, floored).
   * The sync sets a time seconds in the past on that side's clock, so that the file's stamp can be
   * trusted by the next scan at once, and any later write, which stamps "now", is told apart
   * (docs/sync.md).
   */
  readonly mtimeMs?: number;
  /**
   * Called with the file's stat as the write itself last saw it at its name (createNew: the look after
   * the link that found the file ours), so that a caller recording it needs no look of its own.
   */
  readonly seen?: (stat: EntryStat) => void;
}

/** A file written to a temp name by Endpoint.stage, waiting to be put at its name. */
export interface Staged {
  /** Renames the temp file over the target (the write's failure, if it failed, is thrown here). */
  commit(): Promise<void>;
  /** Removes the temp file (nothing was put at the name). */
  discard(): Promise<void>;
}

/** Releases a lock. Rejects with `refused` if the lock was taken over meanwhile (then it is left alone). */
export type ReleaseLock = () => Promise<void>;

import type { SideScan } from '../sync/scan.js';
import type { Outcome } from './conditional.js';

export interface Endpoint {
  /** For messages: `local:/path` or `vps:/home/x/mailroom`. */
  readonly label: string;
  /** One readdir, lstat semantics (links reported as 'symlink'). A missing folder gives []. */
  list(relDir: string): Promise<EntryStat[]>;
  /** lstat; undefined when nothing is there. */
  stat(rel: string): Promise<EntryStat | undefined>;
  /**
   * A regular file's bytes. notFound when missing; refused for a symlink, a folder or a special file
   * (checked on the open file, never blocking on a fifo where the platform allows); a TooBigError
   * when it holds more than `limit.maxBytes` (default limits.attachment_file): never read whole.
   */
  readFile(rel: string, limit?: ReadLimit): Promise<Buffer>;
  /** `.<name>.tmp-<random>` beside the target, fsync, rename over it; the folder is created first. */
  writeFileAtomic(rel: string, data: Buffer, opts?: WriteOptions): Promise<void>;
  /**
   * Optional: create `rel` only if nothing is there, without taking its lock (temp + fsync, then
   * link(2), which never replaces an entry). `created`: the file is ours and no locked writer can
   * replace it; `contended`: it was linked, but a writer holding the lock may have looked before the
   * link and be about to rename over it (or did): take the lock and look. `fallback`: something is
   * there, or the file system cannot link: do the locked write. Used by conditional.ts.
   */
  createNew?(rel: string, data: Buffer, opts?: WriteOptions): Promise<'created' | 'contended' | 'fallback'>;
  /**
   * Optional: starts writing `data` to a temp file beside `rel` (as writeFileAtomic does, fsync
   * included) and returns at once; `commit` then puts it at its name, `discard` removes it. A
   * conditional write sends its bytes this way while it takes the lock and looks (conditional.ts):
   * over SFTP two round trips fewer per file. writeFileAtomic is stage + commit.
   */
  stage?(rel: string, data: Buffer, opts?: WriteOptions): Staged;
  /** Removes a file or a symlink (never what it points to). Missing is fine. */
  remove(rel: string): Promise<void>;
  /** Creates the folder and its parents. Refused when a component is a file or a symlink. */
  mkdirp(rel: string): Promise<void>;
  /** Holds `<rel>.lock`; refreshed while held; resolves to its release. */
  lock(rel: string, opts?: LockOptions): Promise<ReleaseLock>;
  close(): Promise<void>;
  /**
   * Optional, for an endpoint that can do it in one request (a far agent): the lock + re-check +
   * write of conditional.ts's putIfHolds / removeIfHolds, run on the endpoint's own side.
   */
  putIf?(
    rel: string,
    data: Buffer,
    expect: string | undefined,
    rank?: number,
    absent?: readonly string[],
  ): Promise<Outcome>;
  /**
   * Whether putIf honours `absent` on a create (expect undefined): each of those paths must not exist
   * either, checked on the endpoint's side just before the create (a skip if one does).
   */
  readonly createsIfAbsent?: boolean;
  removeIf?(rel: string, expect: string): Promise<Outcome>;
  /** Optional: the endpoint's side scans itself (a far agent, with its own cache) and sends the result. */
  scan?(agents: readonly string[]): Promise<SideScan>;
  /** Steps the sync may run at once against this endpoint (default 16); a batching one takes more. */
  readonly parallelism?: number;
  /** A new pass begins: forget what this pass remembered about the tree (folders seen to be real). */
  newPass?(): void;
}
