// Late writers: a completed drop's original inode is kept (ops/complete.ts) so that a writer still
// holding it open loses nothing. Each pass looks at the kept inodes in the inboxes: what grew is
// appended to its task; one quiet for a minute, with every byte in the task, is removed.

import { lstat, unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { limitsOf } from '../src/config/limits.js';
import type { Mailroom } from '../src/mailroom.js';
import { appendLateWrite, DROPPED } from '../src/ops/complete.js';
import { readRegularFile } from '../src/store/read-file.js';
import type { SeenForms } from './settle.js';

const LATE_WRITE_QUIET_MS = 60_000;

export const isKeptDrop = (name: string): boolean => DROPPED.test(name);

export async function catchLateWrites(
  mr: Mailroom,
  path: string,
  seen: SeenForms,
  now: number,
): Promise<void> {
  const m = DROPPED.exec(basename(path));
  if (!m) return;
  const id = m[1]!;
  const known = Number(m[2]);
  const st = await lstat(path);
  if (!st.isFile()) return;
  if (st.size > known) {
    await appendLateWrite(
      mr,
      path,
      id,
      known,
      await readRegularFile(path, { maxBytes: limitsOf(mr.config).taskFile }),
    );
    return;
  }
  const prev = seen.get(path);
  if (!prev || prev.size !== st.size || prev.mtimeMs !== st.mtimeMs) {
    seen.set(path, { size: st.size, mtimeMs: st.mtimeMs, since: now });
  } else if (now - prev.since >= LATE_WRITE_QUIET_MS && st.size === known) {
    await unlink(path); // quiet, and every byte of it is in the task
  }
}
