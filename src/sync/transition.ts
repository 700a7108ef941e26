// The sync state's one transition (docs/sync.md, "Apply and transition"): apply carries out decisions
// on disk and says, per decision it finished, what both sides now hold (an Outcome); `transition`
// folds those outcomes into the base. Apply never writes the base itself, so what the base may
// claim is decided here, in one step that touches nothing but the base it is given and that
// test/sync/transition.test.ts tests as a table.
// As in Mutagen, where the synchronizer's transition step applies changes and reports what it
// managed, and the controller alone turns those results into the new ancestor (our base).

import type { MergeFields } from './merge-task.js';
import type { SyncState } from './state.js';

export type Base = NonNullable<SyncState['base']>;

/** What one finished decision left on both sides. */
export type Outcome =
  /** Both sides hold task `id` at `loc` with these bytes (their hash, the rank of where it is). */
  | { kind: 'task-held'; id: string; loc: string; hash: string; rank: number; fields?: MergeFields }
  /** Task `id` is on neither side's copy of the host's folders any more (deleted, or folded elsewhere). */
  | { kind: 'task-gone'; id: string }
  /** Both sides hold the file at `path` with this hash. */
  | { kind: 'file-held'; path: string; hash: string }
  /** The file at `path` is gone from both sides. */
  | { kind: 'file-gone'; path: string };

/**
 * The base after `outcomes`, in order (a later outcome for the same task or file wins). It is `base`
 * itself, changed in place (a new one when there was none): copying 10,000 records for each of the
 * daemon's fast passes cost 5 ms. Nothing else is read or written, so a table of (base, outcomes,
 * base after) tests it whole.
 */
export function transition(base: Base | null, outcomes: readonly Outcome[]): Base {
  const out = base ?? { tasks: {}, files: {} };
  for (const o of outcomes) {
    if (o.kind === 'task-held')
      out.tasks[o.id] = { loc: o.loc, hash: o.hash, rank: o.rank, ...(o.fields ? { base: o.fields } : {}) };
    else if (o.kind === 'task-gone') delete out.tasks[o.id];
    else if (o.kind === 'file-held') out.files[o.path] = { hash: o.hash };
    else delete out.files[o.path];
  }
  return out;
}
