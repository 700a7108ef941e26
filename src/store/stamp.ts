// When a cache of something read from a local file may be trusted (the daemon's parse cache, the
// `ls` cache): the file's (size, mtime, ctime, inode) are what they were at the read, and the read
// was not racy. As in git, a file modified within RACY_MS of its read is never cached: a second
// write in the same timestamp granule would otherwise hide. The ctime, which no tool can set back,
// catches a writer that restores the mtime.

import type { Stats } from 'node:fs';

export const RACY_MS = 2000;

export interface FileStamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

export const stampOf = (st: Stats): FileStamp => ({
  size: st.size,
  mtimeMs: st.mtimeMs,
  ctimeMs: st.ctimeMs,
  ino: st.ino,
});

export const sameStamp = (a: FileStamp, b: FileStamp): boolean =>
  a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;

/** Whether what was read at `readAt` (ms since epoch) from a file with this stamp may be cached. */
export const cacheable = (stamp: FileStamp, readAt: number, racyMs = RACY_MS): boolean =>
  stamp.mtimeMs + racyMs < readAt && stamp.ctimeMs + racyMs < readAt;
