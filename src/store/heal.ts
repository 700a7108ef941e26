// Completes moves interrupted by a crash. A move is link(src, dst) then unlink(src), so a crash in
// between leaves two hard links of one inode: the same bytes in two boxes. Removing one link loses
// nothing; which one goes is decided from the task's own content (pure `placeRank`, src/task/place.ts), so it works
// for every kind of move (finish, route, retry, reassign, archive).

import { lstat, unlink } from 'node:fs/promises';
import { DEFAULT_LIMITS } from '../config/limits.js';
import { placeRank } from '../task/place.js';
import { withLocks } from './lock.js';
import { readRegularFile } from './read-file.js';
import { readTask, type TaskRef } from './scan.js';
import type { StoreContext } from './tasks.js';

// The rank lives with the rest of where-a-task-belongs (task/place.ts); re-exported for sync's imports.
export { placeRank };

/**
 * If `refs` (all one id) are hard links of the same file, or separate files with the very same
 * bytes (a copy a sync pulled back, or a restore), remove all but the rightful one and return it:
 * nothing is lost, since every copy says the same. Returns undefined when they differ (a real
 * conflict for a merge or a person).
 */
export async function healInterruptedMove(ctx: StoreContext, refs: TaskRef[]): Promise<TaskRef | undefined> {
  if (refs.length < 2) return refs[0];
  return withLocks(
    ctx.locker,
    refs.map((r) => r.path),
    async (guards) => {
      const stats = await Promise.all(refs.map((r) => lstat(r.path).catch(() => undefined)));
      const present = refs.filter((_, i) => stats[i] !== undefined);
      if (present.length < 2) return present[0];
      const inodes = new Set(stats.filter((s) => s !== undefined).map((s) => `${s.dev}:${s.ino}`));
      if (inodes.size !== 1 && !(await sameBytes(present))) return undefined;
      const read = await readTask(present[0]!);
      if (!read.ok) return undefined;
      const task = read.task.parsed.task;
      const keep = [...present].sort(
        (a, b) => placeRank(task, b.agent, b.box) - placeRank(task, a.agent, a.box),
      )[0]!;
      const drop = present.filter((r) => r !== keep);
      if (inodes.size !== 1) {
        // Separate files: a result folder beside a copy that would go is left for a person, and a
        // copy changed since it was compared (an editor does not lock) is not removed.
        if (await someHasResultFolder(ctx, drop)) return undefined;
        const now = await Promise.all(drop.map((r) => lstat(r.path).catch(() => undefined)));
        const before = drop.map((r) => stats[refs.indexOf(r)]!);
        if (now.some((st, i) => !st || st.mtimeMs !== before[i]!.mtimeMs || st.size !== before[i]!.size))
          return undefined;
      }
      for (const g of guards) g.assertHeld();
      for (const r of drop) await unlink(r.path);
      return keep;
    },
  );
}

async function sameBytes(refs: TaskRef[]): Promise<boolean> {
  const all = await Promise.all(
    refs.map((r) => readRegularFile(r.path, { maxBytes: DEFAULT_LIMITS.taskFile }).catch(() => undefined)),
  );
  const first = all[0];
  return first !== undefined && all.every((b) => b?.equals(first));
}

async function someHasResultFolder(ctx: StoreContext, refs: TaskRef[]): Promise<boolean> {
  const found = await Promise.all(
    refs.map((r) =>
      lstat(ctx.layout.filesDir(r.agent, r.box, r.id)).then(
        () => true,
        () => false,
      ),
    ),
  );
  return found.some(Boolean);
}
