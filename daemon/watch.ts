// File-change hints for the daemon (and `mailroom watch`). A hint only says "something under this
// path may have changed": the daemon answers every hint with a scan and rescans periodically anyway,
// so a missed or duplicated event costs latency, never correctness.
//
// Native mode watches each folder with fs.watch (inotify on Linux), one watcher per folder, down to
// the agents' boxes; new folders are picked up when their parent reports a change. It costs O(1) per
// event. (chokidar re-reads and stats a whole folder on every change, which made a burst of 1,000
// files in one box quadratic.) Polling mode, for network drives and odd file systems, is poll.ts: a
// stat of every folder every 200 ms, compared with the look before.
//
// A native watch that fails (ENOSPC: the system's inotify watches are used up; a folder's watcher
// erroring) is reported to onError, whose caller stops trusting the watcher's silence, and the hints
// go on from the poller: the native watchers are closed, poll.ts takes over the same paths, and each
// watched path is hinted once for what changed before its first look. Without it a far agent whose
// watch failed streamed nothing from then on, and its hub, taking the quiet stream for a quiet far
// side, pulled only every few minutes (docs/sync.md, "The far agent").

import { type FSWatcher, watch as fsWatch } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isNeverATask } from '../src/store/layout.js';
import { pollTree } from './poll.js';

export interface Watcher {
  close(): Promise<void>;
}

/** Names that are never tasks (our temp files and lock folders change on every write): never worth a pass. */
function noise(path: string): boolean {
  const name = basename(path);
  return (name !== '.' && isNeverATask(name)) || path.includes('.lock/');
}

/** How deep under a watched folder to follow subfolders: agents/<agent>/<box>. */
const DEPTH = 2;

/** Polling mode: how long between two looks at the tree. */
const POLL_MS = 200;

export interface WatchOptions {
  polling?: boolean;
  /** A failure of the watch: hints may have been missed (the watch goes on, polling if it was native). */
  onError?: (err: unknown) => void;
  /** fs.watch, or a stand-in that fails (tests). */
  fsWatch?: typeof fsWatch;
}

export async function watchPaths(
  paths: string[],
  onHint: (path: string) => void,
  opts: WatchOptions = {},
): Promise<Watcher> {
  const poll = () =>
    pollTree(paths, onHint, { depth: DEPTH, intervalMs: POLL_MS, ignore: noise, onError: opts.onError });
  if (opts.polling) return poll();
  const watch = opts.fsWatch ?? fsWatch;
  const watchers = new Map<string, FSWatcher>();
  let closed = false;
  let poller: Promise<Watcher | undefined> | undefined;

  // The first failure of a native watch: from then on, the poller (see the header).
  const failed = (err: unknown) => {
    opts.onError?.(err);
    if (closed || poller) return;
    for (const w of watchers.values()) w.close();
    watchers.clear();
    poller = poll().then(
      (p) => {
        if (!closed) for (const path of paths) onHint(path);
        return p;
      },
      (pollErr: unknown) => {
        opts.onError?.(pollErr);
        return undefined;
      },
    );
  };

  const watchDir = (dir: string, depth: number, only?: string) => {
    const key = only ? `${dir}\0${only}` : dir;
    if (closed || poller || watchers.has(key)) return;
    try {
      const w = watch(dir, (event, filename) => {
        const name = filename?.toString() ?? '';
        if (only && name !== only) return;
        const path = name ? join(dir, name) : dir;
        if (!noise(path)) onHint(path);
        // A new folder (an agent, a box) appears as a rename in its parent: start watching it, and
        // report what is in it already (written before the watch began, or moved in with it).
        if (event === 'rename' && depth > 0 && name && !noise(path)) void addTree(path, depth - 1, true);
      });
      w.on('error', (err) => {
        w.close();
        watchers.delete(key);
        failed(err); // events from this folder may have been missed; the poller takes over
      });
      watchers.set(key, w);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failed(err);
    }
  };

  const addTree = async (dir: string, depth: number, announce = false): Promise<void> => {
    // lstat: a folder that is a link is never watched into (mailroom never follows links).
    const st = await lstat(dir).catch(() => undefined);
    if (!st?.isDirectory()) return;
    watchDir(dir, depth);
    if (depth === 0 && !announce) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (noise(e.name)) continue;
      if (announce) onHint(join(dir, e.name));
      if (e.isDirectory() && depth > 0) await addTree(join(dir, e.name), depth - 1, announce);
    }
  };

  for (const path of paths) {
    const st = await lstat(path).catch(() => undefined);
    if (st?.isDirectory()) await addTree(path, DEPTH);
    else watchDir(dirname(path), 0, basename(path)); // a file: watch its folder, for saves by rename
  }
  return {
    close: async () => {
      closed = true;
      for (const w of watchers.values()) w.close();
      watchers.clear();
      await (await poller)?.close();
    },
  };
}
