// Polling mode of the watcher (`--polling`, for network drives and file systems without events): a
// look at the watched tree every interval, compared with the look before it. Every path that
// appeared, went or changed is a hint.
//
// The first look is taken before `pollTree` returns, and every later look is compared with the one
// before it, so a change made after the watcher is ready is seen by a later look, whatever the
// machine's load. (chokidar's polling, used here before, took each folder's first stat on the
// thread pool some time after saying it was ready; a folder moved in during that gap was part of its
// baseline and never reported: a CI run missed one for 10 s.)
//
// A look costs a stat per folder, not per file. A folder is listed again, and each of its entries
// looked at, when its own stamp (inode, mtime, ctime) moved since the last look, which every
// create, remove and rename in it does, or while it was under RACY_MS (src/store/stamp.ts) old at
// its last listing (a second change within the tick that listing saw would not move it: git's racy
// rule). Files in the other folders can only have been written in place (an editor that saves by
// rename changes the folder): those are looked at in turns, ROTATION files per look, so an edit in
// place among 10,000 files is seen within a few seconds (and the daemon's rescan sees it anyway).
// On a network drive whose clock runs more than RACY_MS behind this machine's, a second change
// within the tick of a listing is seen at the folder's next change or by the daemon's rescan, never
// lost. A folder gone since the last look is reported with what it held. Links are never entered
// (lstat). Looks run one after another, the next at least `intervalMs`, and four times as long as
// the last took, after it ended: a slow disk or a huge tree stretches the interval instead of
// taking the CPU.

import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheable, type FileStamp, stampOf as fileStampOf, sameStamp } from '../src/store/stamp.js';

/** Files of unchanged folders looked at per look, in turns. */
const ROTATION = 256;

export interface PollOptions {
  /** How many folders below each watched one to look into (0: the folder's own entries only). */
  depth: number;
  intervalMs: number;
  /** Names never worth a hint (temp files, lock folders): not looked at, never reported. */
  ignore: (path: string) => boolean;
  onError?: (err: unknown) => void;
}

export interface Poller {
  close(): Promise<void>;
}

/** What a look saw of a folder: its own stamp, when it was listed, and its entries' (name -> stamp). */
interface Folder {
  /** Undefined: something in it was seen to change since, so it is listed again at the next look. */
  stamp: FileStamp | undefined;
  /** Date.now() just before its listing: a change in its mtime's tick after that moves no stamp. */
  listedAt: number;
  entries: Map<string, string>;
}

const stampOf = (st: Stats): string =>
  st.isDirectory()
    ? `d:${st.ino}`
    : `${st.isFile() ? 'f' : 'o'}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

export async function pollTree(
  paths: readonly string[],
  onHint: (path: string) => void,
  opts: PollOptions,
): Promise<Poller> {
  // The caller's handler must not stop the looks, nor leave a rejection nobody awaits.
  const report = (err: unknown) => {
    try {
      opts.onError?.(err);
    } catch {
      // its own failure is not ours to handle
    }
  };
  const reported = new Set<string>(); // errors other than "gone", once per path and code
  const fail = (path: string, err: unknown): undefined => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    const key = `${path}\0${code}`;
    if (reported.has(key)) return undefined;
    reported.add(key);
    report(err);
    return undefined;
  };
  const lstatOrGone = (path: string) => lstat(path).catch((err) => fail(path, err));

  let folders = new Map<string, Folder>();
  const tops = new Map<string, string>(); // watched paths that are not folders: their stamps
  let announce = false; // the first look is the baseline: nothing to report
  let closed = false;
  const hint = (path: string) => {
    if (announce && !closed) onHint(path);
  };
  let turn = 0; // where the rotation through unchanged folders' files goes on

  /** One folder, `depth` more below it; `seen` gets every folder looked at in this look. */
  const visit = async (
    path: string,
    depth: number,
    st: Stats,
    seen: Map<string, Folder>,
    calm: string[],
  ): Promise<void> => {
    const stamp = fileStampOf(st);
    const prev = folders.get(path);
    let folder: Folder;
    // Trusted only when it was older than RACY_MS at its last listing (git's racy rule,
    // store/stamp.ts): the time between looks, which grows with a slow look, does not matter.
    if (prev?.stamp && sameStamp(prev.stamp, stamp) && cacheable(stamp, prev.listedAt)) {
      folder = prev;
      calm.push(path);
    } else {
      folder = { stamp, listedAt: Date.now(), entries: new Map() };
      const names = await readdir(path).catch((err) => fail(path, err));
      if (names === undefined) return; // gone since its stat: its old entries are reported below
      await Promise.all(
        names.map(async (name) => {
          const child = join(path, name);
          if (opts.ignore(child)) return;
          const cst = await lstat(child).catch((err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
            // Not looked at this time (EIO, ESTALE...): kept as it was, and the folder listed again.
            fail(child, err);
            folder.stamp = undefined;
            return prev?.entries.get(name) ?? 'unknown';
          });
          if (cst === undefined) return;
          folder.entries.set(name, typeof cst === 'string' ? cst : stampOf(cst));
        }),
      );
      for (const [name, s] of folder.entries) if (prev?.entries.get(name) !== s) hint(join(path, name));
      if (prev) for (const name of prev.entries.keys()) if (!folder.entries.has(name)) hint(join(path, name));
    }
    seen.set(path, folder);
    if (depth === 0) return;
    await Promise.all(
      [...folder.entries].map(async ([name, s]) => {
        if (!s.startsWith('d:')) return;
        const child = join(path, name);
        const cst = await lstatOrGone(child);
        if (cst?.isDirectory()) await visit(child, depth - 1, cst, seen, calm);
      }),
    );
  };

  /** Files of folders whose listing did not change, ROTATION of them, from where the last look stopped. */
  const rotate = async (seen: Map<string, Folder>, calm: string[]): Promise<void> => {
    const files: [folder: Folder, dir: string, name: string][] = [];
    for (const dir of calm.sort()) {
      const f = seen.get(dir)!;
      for (const [name, s] of f.entries) if (!s.startsWith('d:')) files.push([f, dir, name]);
    }
    if (files.length === 0) return;
    const start = turn % files.length;
    const slice = files.slice(start, start + ROTATION);
    if (slice.length < ROTATION) slice.push(...files.slice(0, Math.min(start, ROTATION - slice.length)));
    turn = start + slice.length;
    await Promise.all(
      slice.map(async ([folder, dir, name]) => {
        const path = join(dir, name);
        const st = await lstatOrGone(path);
        const s = st ? stampOf(st) : undefined;
        if (s === folder.entries.get(name)) return;
        // Gone or changed between two looks at an unchanged folder: that folder is listed next time.
        folder.stamp = undefined;
        hint(path);
      }),
    );
  };

  const look = async (): Promise<void> => {
    const seen = new Map<string, Folder>();
    const calm: string[] = [];
    for (const p of paths) {
      const st = await lstatOrGone(p);
      if (st?.isDirectory()) {
        tops.delete(p);
        await visit(p, opts.depth, st, seen, calm);
        continue;
      }
      const s = st ? stampOf(st) : undefined;
      if (s !== tops.get(p)) hint(p);
      if (s === undefined) tops.delete(p);
      else tops.set(p, s);
    }
    await rotate(seen, calm);
    // A folder gone since the last look (removed, moved away, or a link now): it and what it held.
    for (const [path, f] of folders) {
      if (seen.has(path)) continue;
      hint(path);
      for (const name of f.entries.keys()) hint(join(path, name));
    }
    folders = seen;
  };

  await look();
  announce = true;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const schedule = (lastMs: number) => {
    timer = setTimeout(
      () => {
        const began = performance.now();
        running = look()
          .catch((err) => report(err))
          .finally(() => {
            if (!closed) schedule(performance.now() - began);
          });
      },
      Math.max(opts.intervalMs, 4 * lastMs),
    );
  };
  schedule(0);

  return {
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
