// Writing a dropped file's completion (the pure part is daemon/complete.ts): the file a person or an
// agent dropped into an inbox becomes a task under its own lock, only if it is still what was read.
// Its original inode is kept under a dot name, `.<id>.md.dropped-<bytes already in the task>`: a
// writer still holding the file open (a person typing into `cat >`, an agent streaming) writes on
// into it, and appendLateWrite carries what it wrote into the task, so nothing written late is lost.

import { link, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { limitsOf } from '../config/limits.js';
import { sha256Hex } from '../hash.js';
import type { Mailroom } from '../mailroom.js';
import { writeFileAtomic } from '../store/atomic.js';
import { readRegularFile } from '../store/read-file.js';
import { createTaskFile, TargetExistsError, updateTask } from '../store/tasks.js';

/** `.<id>.md.dropped-<bytes>`: the kept inode of a completed drop (never a task: a dot name). */
export const DROPPED = /^\.([A-Za-z0-9][A-Za-z0-9._-]{0,127})\.md\.dropped-(\d+)$/;
const droppedName = (id: string, bytes: number) => `.${id}.md.dropped-${bytes}`;

export interface Drop {
  agent: string;
  /** The dropped file, and its name without `.md`. */
  path: string;
  name: string;
  /** Its bytes as judged. */
  bytes: Uint8Array;
}

/**
 * Write the completed task `text` as task `id` (in place when the name is the id, else as a new file
 * and the drop removed). Returns false, writing nothing, when the file changed since it was read or
 * the new id was taken meanwhile (the next pass judges again).
 */
export async function completeDrop(mr: Mailroom, drop: Drop, id: string, text: string): Promise<boolean> {
  const done = await mr.locker(drop.path, async (guard) => {
    const now = await readRegularFile(drop.path, { maxBytes: limitsOf(mr.config).taskFile }).catch(
      () => undefined,
    );
    if (!now || sha256Hex(now) !== sha256Hex(drop.bytes)) return false;
    guard.assertHeld();
    await link(drop.path, join(dirname(drop.path), droppedName(id, drop.bytes.length))).catch(() => {});
    if (id === drop.name) {
      await writeFileAtomic(drop.path, text);
      return true;
    }
    try {
      await createTaskFile(mr, drop.agent, 'inbox', id, text);
    } catch (err) {
      if (err instanceof TargetExistsError) return false;
      throw err;
    }
    await unlink(drop.path);
    return true;
  });
  if (!done) return false;
  await mr.log({
    type: 'task.completed',
    id,
    agent: drop.agent,
    path: mr.layout.rel(mr.layout.taskPath(drop.agent, 'inbox', id)),
    note: id === drop.name ? undefined : `from ${drop.name}.md`,
  });
  return true;
}

/**
 * Bytes written into a kept inode after its completion (`dropped` holds `known` bytes of the task,
 * now `bytes.length`): appended to task `id`, and the kept name records the new count.
 */
export async function appendLateWrite(
  mr: Mailroom,
  dropped: string,
  id: string,
  known: number,
  bytes: Buffer,
): Promise<void> {
  const extra = bytes.subarray(known).toString('utf8');
  await updateTask(mr, id, (t) => ({ text: t.text + extra }));
  await rename(dropped, join(dirname(dropped), droppedName(id, bytes.length)));
  await mr.log({
    type: 'task.late-write',
    id,
    note: `${bytes.length - known} bytes written after completion, appended`,
  });
}
