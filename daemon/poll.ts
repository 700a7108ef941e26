// Polling mode of the watcher (`--polling`, for network drives and file systems without events): a
// look at the watched tree every interval, compared with the look before it. Every path that
// appeared, went or changed is a hint.
//
// The first look is taken before `pollTree` returns, and every later look is compared with the one
// before it, so a change made after the watcher is ready is always seen by the next look, whatever
// the machine's load. (chokidar's polling, used here before, took each folder's first stat on the
// thread pool some time after saying it was ready; a folder moved in during that gap was part of its
// baseline and never reported: a CI run missed one for 10 s.)
//
// Folders are compared by their listing (names and kinds), not their mtime, which a change within
// one clock tick does not move; files and links by inode, size, mtime and ctime. Links are never
// entered (lstat). Looks run one after another, the next `intervalMs` after the last one ended, so
// a slow disk stretches the interval instead of piling looks up.

import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** path -> what it looked like (a folder: its inode; its listing is compared through its children). */
type Look = Map<string, string>;

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

export async function pollTree(
  paths: readonly string[],
  onHint: (path: string) => void,
  opts: PollOptions,
): Promise<Poller> {
  const reported = new Set<string>(); // errors other than "gone", once per path and code
  const fail = (path: string, err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    const key = `${path}\0${code}`;
    if (reported.has(key)) return;
    reported.add(key);
    opts.onError?.(err);
  };

  const visit = async (path: string, depth: number, into: Look): Promise<void> => {
    let st: Stats;
    try {
      st = await lstat(path);
    } catch (err) {
      return fail(path, err);
    }
    if (!st.isDirectory()) {
      into.set(path, `${st.isFile() ? 'f' : 'o'}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`);
      return;
    }
    into.set(path, `d:${st.ino}`);
    if (depth < 0) return;
    let names: string[];
    try {
      names = await readdir(path);
    } catch (err) {
      return fail(path, err);
    }
    await Promise.all(
      names.map((name) => {
        const child = join(path, name);
        return opts.ignore(child) ? undefined : visit(child, depth - 1, into);
      }),
    );
  };

  const look = async (): Promise<Look> => {
    const into: Look = new Map();
    for (const p of paths) await visit(p, opts.depth, into);
    return into;
  };

  let last = await look();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const tick = async () => {
    const now = await look();
    if (closed) return;
    for (const [path, was] of last) if (now.get(path) !== was) onHint(path);
    for (const path of now.keys()) if (!last.has(path)) onHint(path);
    last = now;
  };
  const schedule = () => {
    timer = setTimeout(() => {
      running = tick()
        .catch((err) => opts.onError?.(err))
        .finally(() => {
          if (!closed) schedule();
        });
    }, opts.intervalMs);
  };
  schedule();

  return {
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
