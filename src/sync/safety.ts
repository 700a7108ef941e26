// The mass-delete guard, checked on a plan before anything is written (as Mutagen does). Pure.
//
// Invariant: a pass never deletes most of a side's tasks and files in one go. That plan is what the
// classic accident looks like — the far folder was emptied, unmounted or pointed at the wrong path, and
// a faithful three-way sync would dutifully propagate the emptiness. Small trees are exempt: there a
// handful of deletes is a large fraction without being an accident. Far copies of tasks that this
// machine still holds elsewhere (routed home, escalated) are not missing anywhere: removing them is
// routine clean-up and is not counted.

import type { Plan, Side } from './reconcile.js';

export interface SafetyOptions {
  /** Refuse when a side would lose more than this fraction of its tasks+files. Default 0.5. */
  maxDeleteFraction?: number;
  /** Sides holding fewer tasks+files than this are never refused. Default 10. */
  minFiles?: number;
  /**
   * Ids of tasks this machine still holds outside the host's folders (routed home, escalated,
   * archived elsewhere). Removing their far copies (and their `<id>.files/`) is routine clean-up,
   * not a sign of an emptied folder, so those far deletes are not counted.
   */
  elsewhere?: ReadonlySet<string>;
}

export type SafetyVerdict =
  | { ok: true }
  | { ok: false; side: Side; deletes: number; of: number; reason: string };

/** The id whose `<id>.files/` folder holds `path` (`agents/<agent>/<box>/<id>.files/...`), if any. */
function resultFolderId(path: string): string | undefined {
  const dir = path.split('/')[3];
  return dir?.endsWith('.files') ? dir.slice(0, -'.files'.length) : undefined;
}

function countDeletes(plan: Plan, side: Side, elsewhere: ReadonlySet<string>): number {
  const excused = (id: string | undefined) => side === 'remote' && id !== undefined && elsewhere.has(id);
  let n = 0;
  for (const d of plan.tasks) if (d.kind === 'delete' && d.side === side && !excused(d.id)) n++;
  for (const d of plan.files)
    if (d.kind === 'delete' && d.side === side && !excused(resultFolderId(d.path))) n++;
  return n;
}

function reasonFor(side: Side, deletes: number, of: number): string {
  // Deletes on one side mean the items are gone from the other: name where they went missing.
  const [gone, here] =
    side === 'local' ? ['on the far host', 'on this machine'] : ['on this machine', 'on the far host'];
  return (
    `refusing to sync: ${deletes} of the ${of} tasks and files ${here} would be deleted, because they ` +
    `are missing ${gone}. If that folder was emptied, unmounted or moved by accident, check the path ` +
    `and run the sync again (see what a pass would do with \`mailroom sync --dry-run\`). To bring ` +
    `everything back instead, remove this host's sync state under .mailroom/sync/: the next pass ` +
    `then merges both sides without deleting anything. If the deletes are intended, delete the same ` +
    `items ${here} too.`
  );
}

/**
 * Would `plan` delete more than `maxDeleteFraction` of a side's tasks+files? `counts` are the numbers
 * of tasks plus plain files each side holds now. The local side is checked first.
 */
export function checkSafety(
  plan: Plan,
  counts: { local: number; remote: number },
  opts: SafetyOptions = {},
): SafetyVerdict {
  const maxFraction = opts.maxDeleteFraction ?? 0.5;
  const minFiles = opts.minFiles ?? 10;
  for (const side of ['local', 'remote'] as const) {
    const of = counts[side];
    const deletes = countDeletes(plan, side, opts.elsewhere ?? new Set());
    if (of >= minFiles && deletes > maxFraction * of) {
      return { ok: false, side, deletes, of, reason: reasonFor(side, deletes, of) };
    }
  }
  return { ok: true };
}
