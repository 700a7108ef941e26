// Three-way reconciliation of one host's folders (docs/spec.md §6): a pure function of (base, local,
// remote) snapshots that says, per task id and per plain file, what a sync pass must do. No IO, no
// clocks: versions are compared by content hash and location only.
//
// Invariant: nothing is lost. A version that differs from the base is never deleted and never
// overwritten by a version that lacks its content (it is taken, or merged); without a base nothing is
// deleted at all. A delete wins only over a version that is unchanged since the base.
//
// Tasks are keyed by id, not by path, so a move between boxes (or agents) is one change of location,
// not a delete plus a create; content (hash) and location (loc) are reconciled as separate dimensions:
//
//   | dimension | unchanged both | one side changed | both changed, equal | both changed, differ       |
//   |-----------|----------------|------------------|---------------------|----------------------------|
//   | content   | keep           | that side's      | that                | merge the two texts        |
//   | location  | keep           | that side's      | that                | higher rank; tie -> local  |
//
//   | base has it | local   | remote  | decision                                                   |
//   |-------------|---------|---------|------------------------------------------------------------|
//   | no / lost   | present | absent  | take local (create on remote)                              |
//   | no / lost   | absent  | present | take remote (create on local)                              |
//   | no / lost   | present | present | both count as changed and moved: the dimension table above |
//   | yes         | absent  | absent  | no decision (deleted on both: nothing to do)               |
//   | yes         | absent  | = base  | delete on remote                                           |
//   | yes         | absent  | changed | take remote (its change wins over the delete)              |
//   | yes         | present | present | the dimension table above                                  |
//   (and the mirror images for remote)
//
// A task can leave the host's folders on this machine while the far side still holds it: the daemon
// routed it home, escalated it to another agent's inbox, or archived it elsewhere. `elsewhere` holds
// this machine's copy of such ids (found outside the host's folders); the far copy is then never
// pulled back as a second copy, it is settled with the copy where it is:
//
//   | far copy (local absent, this machine has it elsewhere) | decision                         |
//   |--------------------------------------------------------|----------------------------------|
//   | same bytes as the copy elsewhere                       | delete on remote                 |
//   | unchanged since the base                               | delete on remote                 |
//   | changed since the base                                 | fold: merge it into the copy     |
//   |                                                        | where it is, then delete on remote |
//   | no base, but the host was given it (`synced`)          | fold, as above (the base forgot  |
//   |                                                        | it: see below)                   |
//   | no base for the id, never synced with the host         | keep both, report (a far host    |
//   |                                                        | may not write a task outside its |
//   |                                                        | folders that it never got)       |
//
// How a base forgets a task the far side still holds: a pass that sees it on neither side drops its
// record, and a write of an earlier pass can land after that scan (a hub that crashed mid-pass and
// restarted at once: the far agent of the dead connection finishes the requests it had in hand
// while the new pass scans), or the sync state was lost. The sent ledger, never pruned by a pass,
// still knows the task went to that host (or, when the only pass that recorded it died before saving
// the ledger too, this machine's copy names one of the host's agents as to or from), so its far copy
// is a version of ours and is folded in.
//
// Plain files (AGENT.md, files inside `<id>.files/`) are keyed by relative path and have only content:
// both changed differently is a `conflict` (the applier keeps both), never a merge.

export type Side = 'local' | 'remote';

/** One side's version of a task: where it is and what it holds. */
export interface TaskVersion {
  /** `agent/box`, e.g. `research/inbox`. */
  loc: string;
  /** Content hash of the file's bytes. */
  hash: string;
  /** placeRank(task, agent, box) on that side: higher = further along the task's life. */
  rank: number;
}

export interface FileVersion {
  hash: string;
}

/** What reconcile reads of one side's (or the base's) tasks or files: a Map, or a record read in place. */
export interface Lookup<V> {
  get(key: string): V | undefined;
  keys(): Iterable<string>;
}

export interface Snapshot {
  tasks: Lookup<TaskVersion>;
  files: Lookup<FileVersion>;
}

export interface SyncInputs {
  /** The state after the last successful sync with this host; undefined when lost or never synced. */
  base: Snapshot | undefined;
  local: Snapshot;
  remote: Snapshot;
  /**
   * This machine's copies of tasks that are outside the host's folders here (another agent's box),
   * for ids the local snapshot lacks. Only ids the remote side holds matter; may be undefined.
   */
  elsewhere?: ReadonlyMap<string, TaskVersion>;
  /**
   * Ids this machine knows the host was given (the sent ledger, or its own copy is addressed to or
   * from one of the host's agents: pass.ts givenToHost); may be undefined.
   */
  synced?: Pick<ReadonlySet<string>, 'has'>;
}

export type TaskDecision =
  /** Both sides already hold the same bytes at the same loc. */
  | { id: string; kind: 'same' }
  /**
   * Make both sides hold `from`'s content at `loc`. On the other side: write `from`'s bytes at `loc`
   * and remove its copy at any other loc. `loc` may differ from `from`'s own current loc (the content
   * came from one side, the move from the other): then the applier also moves `from`'s copy to `loc`.
   */
  | { id: string; kind: 'take'; from: Side; loc: string }
  /**
   * Both sides changed the content differently: merge the two texts (merge-task.ts) and write the
   * result at `loc` on both sides, removing each side's copy at any other loc.
   */
  | { id: string; kind: 'merge'; loc: string }
  /** Remove the task from `side`: the other side deleted it and `side` had not changed it. */
  | { id: string; kind: 'delete'; side: Side }
  /**
   * The task left the host's folders on this machine and is now at `loc` (outside them); the far
   * copy changed since the base: merge the far copy into this machine's copy at `loc` (it stays
   * there), then remove the far copy.
   */
  | { id: string; kind: 'fold'; loc: string }
  /** Leave both copies alone and report `reason`: nothing safe to do without a person. */
  | { id: string; kind: 'keep'; reason: string };

export type FileDecision =
  | { path: string; kind: 'same' }
  | { path: string; kind: 'take'; from: Side }
  | { path: string; kind: 'delete'; side: Side }
  /** Both sides changed the file differently: keep both (the applier writes a conflict copy). */
  | { path: string; kind: 'conflict' };

/**
 * The decisions of one pass, sorted by id / path. Ids and paths deleted on both sides since the base
 * get no decision at all: there is nothing on either side to act on.
 */
export interface Plan {
  tasks: TaskDecision[];
  files: FileDecision[];
}

// Code-unit order, not localeCompare: the plan must not depend on the machine's locale.
const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sortedKeys(...maps: (Lookup<unknown> | undefined)[]): string[] {
  const keys = new Set<string>();
  for (const m of maps) if (m) for (const k of m.keys()) keys.add(k);
  return [...keys].sort(byKey);
}

/** The location both sides end up at, when both versions exist. `base` undefined: none. */
function chooseLoc(base: TaskVersion | undefined, l: TaskVersion, r: TaskVersion): string {
  if (l.loc === r.loc) return l.loc;
  const lMoved = base === undefined || l.loc !== base.loc;
  const rMoved = base === undefined || r.loc !== base.loc;
  if (lMoved && !rMoved) return l.loc;
  if (rMoved && !lMoved) return r.loc;
  // Both moved to different places: the one further along the task's life wins, so a finished task
  // is never pulled back into an inbox; a tie goes to this machine, deterministically.
  return r.rank > l.rank ? r.loc : l.loc;
}

/** Where the content both sides end up with comes from: one side (`local`/`remote`), or a merge. */
function chooseContent(base: TaskVersion | undefined, l: TaskVersion, r: TaskVersion): Side | 'merge' {
  if (l.hash === r.hash) return 'local'; // equal bytes: either side will do
  const lChanged = base === undefined || l.hash !== base.hash;
  const rChanged = base === undefined || r.hash !== base.hash;
  if (lChanged && rChanged) return 'merge';
  // Hashes differ, so at least one changed; the one that did carries the content.
  return lChanged ? 'local' : 'remote';
}

/** The far copy of a task that this machine holds outside the host's folders (`e`, at another place). */
function decideAway(
  id: string,
  base: TaskVersion | undefined,
  r: TaskVersion,
  e: TaskVersion,
  synced: boolean,
): TaskDecision {
  const unchanged = base !== undefined && r.hash === base.hash && r.loc === base.loc;
  if (r.hash === e.hash || unchanged) return { id, kind: 'delete', side: 'remote' };
  if (base === undefined && !synced) {
    return {
      id,
      kind: 'keep',
      reason:
        `task ${id} is at ${e.loc} on this machine and at ${r.loc} on the far host with different ` +
        `content, and this machine has no record of syncing it with that host: both copies are left ` +
        `alone; keep one by hand (delete the other, or give it a new id)`,
    };
  }
  return { id, kind: 'fold', loc: e.loc };
}

function decideTask(
  id: string,
  base: TaskVersion | undefined,
  l: TaskVersion | undefined,
  r: TaskVersion | undefined,
  e: TaskVersion | undefined,
  synced: boolean,
): TaskDecision | undefined {
  if (l === undefined && r === undefined) return undefined;
  if (l === undefined && r !== undefined && e !== undefined) return decideAway(id, base, r, e, synced);
  if (l === undefined || r === undefined) {
    const [present, side] = l !== undefined ? [l, 'local' as const] : [r!, 'remote' as const];
    const unchanged = base !== undefined && present.hash === base.hash && present.loc === base.loc;
    // Deleted on the other side: the delete wins only over an unchanged version.
    if (unchanged) return { id, kind: 'delete', side };
    return { id, kind: 'take', from: side, loc: present.loc };
  }
  if (l.hash === r.hash && l.loc === r.loc) return { id, kind: 'same' };
  const loc = chooseLoc(base, l, r);
  const content = chooseContent(base, l, r);
  if (content === 'merge') return { id, kind: 'merge', loc };
  // Equal bytes on both sides: take from the side already at the chosen loc, so nothing needs moving
  // on it. Otherwise the content side is fixed and `loc` may be the other side's (edit vs move).
  if (l.hash === r.hash) return { id, kind: 'take', from: loc === r.loc ? 'remote' : 'local', loc };
  return { id, kind: 'take', from: content, loc };
}

function decideFile(
  path: string,
  base: FileVersion | undefined,
  l: FileVersion | undefined,
  r: FileVersion | undefined,
): FileDecision | undefined {
  if (l === undefined && r === undefined) return undefined;
  if (l === undefined || r === undefined) {
    const [present, side] = l !== undefined ? [l, 'local' as const] : [r!, 'remote' as const];
    if (base !== undefined && present.hash === base.hash) return { path, kind: 'delete', side };
    return { path, kind: 'take', from: side };
  }
  if (l.hash === r.hash) return { path, kind: 'same' };
  const lChanged = base === undefined || l.hash !== base.hash;
  const rChanged = base === undefined || r.hash !== base.hash;
  if (lChanged && rChanged) return { path, kind: 'conflict' };
  return { path, kind: 'take', from: lChanged ? 'local' : 'remote' };
}

/** What one sync pass must do to make both sides equal without losing any side's change. */
export function reconcile(inputs: SyncInputs): Plan {
  const { base, local, remote } = inputs;
  const tasks: TaskDecision[] = [];
  for (const id of sortedKeys(base?.tasks, local.tasks, remote.tasks)) {
    const d = decideTask(
      id,
      base?.tasks.get(id),
      local.tasks.get(id),
      remote.tasks.get(id),
      inputs.elsewhere?.get(id),
      inputs.synced?.has(id) === true,
    );
    if (d) tasks.push(d);
  }
  const files: FileDecision[] = [];
  for (const path of sortedKeys(base?.files, local.files, remote.files)) {
    const d = decideFile(path, base?.files.get(path), local.files.get(path), remote.files.get(path));
    if (d) files.push(d);
  }
  return { tasks, files };
}
