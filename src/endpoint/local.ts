// The Endpoint contract over a plain local folder (node:fs). Links are never followed: reads open with
// O_NOFOLLOW, listings use lstat, and parent folders are checked not to be links before any IO.
// A folder found to be a real folder is remembered for the pass (newPass() forgets them, and so does
// any error), so each folder is lstat'ed once per pass instead of once per path below it; the file
// itself is still opened with O_NOFOLLOW or lstat'ed at the time of use (docs/performance.md, WAN).
// Writes are temp + fsync + rename + fsync of the folder, so a crash leaves the old or the new file.

import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsync,
  futimesSync,
  linkSync,
  lstatSync,
  openSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { mkdir, open, readdir, rename, rmdir, unlink, utimes } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_LIMITS } from '../config/limits.js';
import { errnoCode, MailroomError, notFound, refused, usageError } from '../errors.js';
import { NotAFileError, readRegularFile, TooBigError } from '../store/read-file.js';
import type {
  Endpoint,
  EntryKind,
  EntryStat,
  LockOptions,
  ReadLimit,
  ReleaseLock,
  WriteOptions,
} from './endpoint.js';
import { acquireLock, type LockFs } from './lock-dir.js';
import { isLink, notADir, notAFile, notEmpty } from './refusals.js';
import { joinRel, parseRelPath, tempNameFor } from './rel-path.js';

/** Entries lstat'ed synchronously between two turns of the event loop. */
const LSTAT_SLICE = 512;

export interface LocalEndpointOptions {
  /** Default `local:<root>`. */
  readonly label?: string;
}

export function localEndpoint(root: string, opts: LocalEndpointOptions = {}): Endpoint {
  if (!isAbsolute(root))
    throw usageError(`local endpoint root must be an absolute path, got ${JSON.stringify(root)}`);
  return new LocalEndpoint(resolve(root), opts.label ?? `local:${resolve(root)}`);
}

function kindOf(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryKind {
  return st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
}

class LocalEndpoint implements Endpoint {
  /** Relative folders (below the root) seen to be real folders in this pass; see the header. */
  private readonly realDirs = new Set<string>();

  constructor(
    private readonly root: string,
    readonly label: string,
  ) {}

  newPass(): void {
    this.realDirs.clear();
  }

  private forgetBelow(rel: string): void {
    for (const d of this.realDirs) if (d === rel || d.startsWith(`${rel}/`)) this.realDirs.delete(d);
  }

  /** Any error may mean the tree changed under us: forget every folder checked so far. */
  private async guard<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      this.realDirs.clear();
      throw err;
    }
  }

  private abs(segments: readonly string[]): string {
    return join(this.root, ...segments);
  }

  // One lstat is answered from the inode cache in microseconds: synchronously, it costs less than a
  // promise and a thread-pool hop, and a missing entry is no thrown error (a far agent's first copy
  // of 10,000 files made 20,000 of them).
  private async lstatRel(rel: string): Promise<EntryStat | undefined> {
    const segments = rel === '' ? [] : rel.split('/');
    const st = lstatEntry(this.abs(segments));
    return st && { name: segments.at(-1) ?? '', kind: kindOf(st), size: st.size, mtimeMs: st.mtimeMs };
  }

  /**
   * Checks that no folder above `segments` is a link or a file; false: one of them is missing.
   * Synchronous, so that of the requests a far agent works on at once, the first to look at a folder
   * remembers it before the next one asks (with an await between the look and the note, each of them
   * looked at the same folders again: a first copy of 2,000 tasks made 1,058 lstats of `agents`).
   */
  private parents(segments: readonly string[]): boolean {
    // A folder is remembered only once every folder above it was, so the longest remembered prefix
    // says every parent up to it is a real folder; the rest are looked at now, top down.
    let known = segments.length - 1;
    while (known > 0 && !this.realDirs.has(joinRel(segments.slice(0, known)))) known--;
    for (let i = known + 1; i < segments.length; i++) {
      const rel = joinRel(segments.slice(0, i));
      const kind = this.kindNow(segments.slice(0, i));
      // A missing folder is fine: nothing below it exists, and whatever creates it makes a real one.
      if (kind === undefined) return false;
      if (kind !== 'dir') {
        this.realDirs.clear();
        throw notADir(this.label, rel, kind);
      }
      this.realDirs.add(rel);
    }
    return true;
  }

  /** What is at `segments` now (lstat), or undefined; an error forgets every folder seen so far. */
  private kindNow(segments: readonly string[]): EntryKind | undefined {
    try {
      const st = lstatEntry(this.abs(segments));
      return st && kindOf(st);
    } catch (err) {
      this.realDirs.clear();
      throw err;
    }
  }

  async list(relDir: string): Promise<EntryStat[]> {
    const segments = parseRelPath(relDir, this.label, { allowRoot: true });
    this.parents(segments);
    const self = await this.lstatRel(joinRel(segments));
    if (self === undefined) return [];
    if (self.kind !== 'dir') throw notADir(this.label, relDir, self.kind);
    let names: string[];
    try {
      names = await readdir(this.abs(segments));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
    // lstatSync in slices: an lstat of a cached inode takes microseconds, far less than a promise and
    // a thread-pool hop each (10,000 entries: ~100 ms instead of 200-400 ms); between slices the event
    // loop runs, so a big folder never blocks it for long.
    // A name from readdir has no slash: joined by hand (path.join normalises each of 10,000 paths).
    const dir = this.abs(segments);
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    const out: EntryStat[] = [];
    for (let i = 0; i < names.length; i += LSTAT_SLICE) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      for (const name of names.slice(i, i + LSTAT_SLICE)) {
        const st = lstatEntry(prefix + name);
        // An entry removed between readdir and lstat is simply not there any more.
        if (st !== undefined) out.push({ name, kind: kindOf(st), size: st.size, mtimeMs: st.mtimeMs });
      }
    }
    return out;
  }

  async stat(rel: string): Promise<EntryStat | undefined> {
    const segments = parseRelPath(rel, this.label, { allowRoot: true });
    // Its folder missing, it is missing too: no second look (a far agent's create asks whether the
    // task is in the agent's other boxes, and in a first copy those folders are often not there yet).
    if (!this.parents(segments)) return undefined;
    return this.lstatRel(joinRel(segments));
  }

  async readFile(rel: string, limit?: ReadLimit): Promise<Buffer> {
    const segments = parseRelPath(rel, this.label);
    this.parents(segments);
    const maxBytes = limit?.maxBytes ?? DEFAULT_LIMITS.attachmentFile;
    const limitKey = limit?.limitKey ?? 'limits.attachment_file';
    try {
      return await readRegularFile(this.abs(segments), { maxBytes, limitKey });
    } catch (err) {
      this.realDirs.clear();
      if (err instanceof MailroomError && err.kind === 'notFound')
        throw notFound(`${this.label}: ${rel} does not exist`);
      if (err instanceof NotAFileError)
        throw err.what === 'symbolic link'
          ? isLink(this.label, rel)
          : notAFile(this.label, rel, err.what === 'folder' ? 'dir' : 'other');
      if (err instanceof TooBigError)
        throw new TooBigError(`${this.label}: ${rel}`, err.size, maxBytes, limitKey);
      throw err;
    }
  }

  async writeFileAtomic(rel: string, data: Buffer, opts?: WriteOptions): Promise<void> {
    const segments = parseRelPath(rel, this.label);
    const dirSegments = segments.slice(0, -1);
    await this.mkdirpSegments(dirSegments);
    const dir = this.abs(dirSegments);
    const temp = join(dir, tempNameFor(segments.at(-1)!));
    // A rewrite keeps the file's permission bits (a task kept at 0600 stays 0600).
    const old = this.lstatMode(segments);
    try {
      await writeTemp(temp, data, old, opts);
      await rename(temp, this.abs(segments));
    } catch (err) {
      this.realDirs.clear();
      unlinkQuietly(temp);
      throw err;
    }
    await syncDirShared(dir);
  }

  private lstatMode(segments: readonly string[]): number | undefined {
    try {
      const st = lstatEntry(this.abs(segments));
      return st?.isFile() ? st.mode & 0o7777 : undefined;
    } catch {
      return undefined;
    }
  }

  async createNew(
    rel: string,
    data: Buffer,
    opts?: WriteOptions,
  ): Promise<'created' | 'contended' | 'fallback'> {
    const segments = parseRelPath(rel, this.label);
    const dirSegments = segments.slice(0, -1);
    await this.mkdirpSegments(dirSegments);
    const dir = this.abs(dirSegments);
    const dest = this.abs(segments);
    const temp = join(dir, tempNameFor(segments.at(-1)!));
    let ino: number;
    try {
      ino = await writeTemp(temp, data, undefined, opts);
      try {
        linkSync(temp, dest);
      } catch (err) {
        // EEXIST: something is there (a file, a link, a folder). Anything else (a file system
        // without hard links): the locked write does it.
        if (errnoCode(err) !== 'EEXIST') this.realDirs.clear();
        return 'fallback';
      }
    } catch (err) {
      this.realDirs.clear();
      throw err;
    } finally {
      unlinkQuietly(temp);
    }
    await syncDirShared(dir);
    // A writer that took the lock and saw no file before our link renames its own file over ours
    // after it, then releases. In this order, no lock held and then our inode still there mean no
    // such writer exists: with no lock now, it has released, so it renamed before this look, and
    // that rename would have taken our inode away. (The other order misses a rename between the two
    // looks.) A writer that takes the lock after our link sees our file: an ordinary edit of it.
    let now: Stats | undefined;
    const made = afterLink({
      lockHeld: () => lstatEntry(`${dest}.lock`) !== undefined,
      inoNow: () => {
        now = lstatEntry(dest);
        return now?.ino;
      },
      ours: ino,
    });
    if (made === 'created' && now !== undefined)
      opts?.seen?.({ name: segments.at(-1)!, kind: kindOf(now), size: now.size, mtimeMs: now.mtimeMs });
    return made;
  }

  async remove(rel: string): Promise<void> {
    const segments = parseRelPath(rel, this.label);
    this.parents(segments);
    const st = await this.lstatRel(rel);
    if (st === undefined) return;
    try {
      if (st.kind === 'dir') {
        this.forgetBelow(rel);
        await rmdir(this.abs(segments));
      } else await unlink(this.abs(segments));
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return;
      this.realDirs.clear();
      if (code === 'ENOTEMPTY') throw notEmpty(this.label, rel);
      throw err;
    }
  }

  async mkdirp(rel: string): Promise<void> {
    await this.mkdirpSegments(parseRelPath(rel, this.label, { allowRoot: true }));
  }

  // Walks down from the root so that a link or a file on the way is refused, never followed.
  private async mkdirpSegments(segments: readonly string[]): Promise<void> {
    for (let i = 1; i <= segments.length; i++) {
      const rel = joinRel(segments.slice(0, i));
      if (this.realDirs.has(rel)) continue;
      const kind = this.kindNow(segments.slice(0, i));
      if (kind !== undefined && kind !== 'dir') {
        this.realDirs.clear();
        throw notADir(this.label, rel, kind);
      }
      if (kind === undefined) await this.guard(this.mkdirOne(segments.slice(0, i), rel));
      this.realDirs.add(rel);
    }
  }

  private async mkdirOne(segments: readonly string[], rel: string): Promise<void> {
    try {
      await mkdir(this.abs(segments));
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST' || (await this.lstatRel(rel))?.kind !== 'dir') throw err;
    }
  }

  async lock(rel: string, opts?: LockOptions): Promise<ReleaseLock> {
    const segments = parseRelPath(rel, this.label);
    this.parents(segments);
    return acquireLock(this.lockFs(), joinRel(segments), opts);
  }

  private lockFs(): LockFs {
    const abs = (rel: string) => join(this.root, rel);
    return {
      label: this.label,
      mtimeResolutionMs: 1,
      mkdirOnce: async (rel) => {
        try {
          await mkdir(abs(rel));
          return 'created';
        } catch (err) {
          if (errnoCode(err) === 'EEXIST') return 'exists';
          if (errnoCode(err) === 'ENOENT') return 'noParent';
          throw err;
        }
      },
      mkdirp: (rel) => this.mkdirp(rel),
      mtimeOf: async (rel) => (await this.lstatRel(rel))?.mtimeMs,
      setMtime: (rel, ms) => utimes(abs(rel), ms / 1000, ms / 1000),
      rmdir: async (rel) => {
        this.forgetBelow(rel);
        try {
          await rmdir(abs(rel));
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') return;
          if (errnoCode(err) === 'ENOTEMPTY')
            throw refused(`${this.label}: the lock ${rel} holds files; remove it by hand`);
          throw err;
        }
      },
      // Same machine, same clock.
      clockNow: async () => Date.now(),
    };
  }

  async close(): Promise<void> {}
}

/**
 * After our link(2): whether a writer that took the lock and saw no file before it may still rename
 * over our file (or did). The two looks run in this order; test/ssh/create-new.test.ts checks every
 * interleaving of such a writer's rename and release with them.
 */
export function afterLink(look: {
  lockHeld: () => boolean;
  inoNow: () => number | undefined;
  ours: number;
}): 'created' | 'contended' {
  if (look.lockHeld()) return 'contended';
  return look.inoNow() === look.ours ? 'created' : 'contended';
}

/** Up to this size a temp file is written with synchronous calls (see writeTemp). */
const SMALL_WRITE_BYTES = 64 * 1024;

/**
 * A new temp file holding `data`, fsynced: with `mode` (a rewrite keeps the file's permission bits),
 * and the mtime asked for set before the file can appear at its name. Returns its inode.
 *
 * A small file (a task) is opened, written and closed with synchronous calls, which return from the
 * page cache in microseconds, and only the fsync, which waits for the disk, goes to the thread pool:
 * each of the others as a promise cost a thread-pool hop of its own, and a far agent's first copy of
 * 10,000 tasks spent more of its time in those hops than in the calls (docs/performance.md).
 */
async function writeTemp(
  temp: string,
  data: Buffer,
  mode: number | undefined,
  opts: WriteOptions | undefined,
): Promise<number> {
  if (data.length > SMALL_WRITE_BYTES) return writeTempLarge(temp, data, mode, opts);
  const fd = openSync(temp, 'wx', mode ?? 0o666);
  try {
    if (mode !== undefined) fchmodSync(fd, mode);
    for (let at = 0; at < data.length; ) at += writeSync(fd, data, at);
    if (opts?.mtimeMs !== undefined) futimesSync(fd, opts.mtimeMs / 1000, opts.mtimeMs / 1000);
    await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
    return fstatSync(fd).ino;
  } finally {
    closeSync(fd);
  }
}

async function writeTempLarge(
  temp: string,
  data: Buffer,
  mode: number | undefined,
  opts: WriteOptions | undefined,
): Promise<number> {
  const fh = await open(temp, 'wx', mode ?? 0o666);
  try {
    if (mode !== undefined) await fh.chmod(mode);
    await fh.writeFile(data);
    if (opts?.mtimeMs !== undefined) await fh.utimes(opts.mtimeMs / 1000, opts.mtimeMs / 1000);
    await fh.sync();
    return (await fh.stat()).ino;
  } finally {
    await fh.close();
  }
}

/** A temp file left behind: removed, and a failure to remove it is no error of the write's. */
function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already, or its folder swapped: nothing of ours to clean
  }
}

/** lstat; undefined when the entry (or, after a swap, its folder) is gone. */
function lstatEntry(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (err) {
    if (errnoCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** Per folder: the fsync running now, and the one queued to start after it (shared by its callers). */
const dirSyncs = new Map<string, { running?: Promise<void>; queued?: Promise<void> }>();

/**
 * fsync of a folder, shared by the writes that renamed into it meanwhile: a caller joins the queued
 * fsync (which starts after its rename) or starts one, never one already running (it may have begun
 * before the caller's rename). 64 writes into one inbox at once cost about two folder fsyncs, not 64.
 */
function syncDirShared(dir: string): Promise<void> {
  let s = dirSyncs.get(dir);
  if (s === undefined) {
    s = {};
    dirSyncs.set(dir, s);
  }
  const state = s;
  if (state.queued) return state.queued;
  const start = (): Promise<void> => {
    state.queued = undefined;
    const run = syncDir(dir).finally(() => {
      if (state.running !== run) return;
      state.running = undefined;
      if (!state.queued) dirSyncs.delete(dir);
    });
    state.running = run;
    return run;
  };
  if (!state.running) return start();
  state.queued = state.running.catch(() => undefined).then(start);
  return state.queued;
}

// After a rename, the folder entry itself must reach the disk for the new file to survive a crash.
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
