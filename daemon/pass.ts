// One pass of the daemon over every configured agent's inbox and outbox, in three stages like a sync
// pass: scan (scan.ts: listing + the stamp cache; the listing is the truth) -> judge (judge.ts,
// pure: what should happen to this file) -> act (act.ts: through ops/ and store/). Per-file
// failures are collected as problems; they never stop the pass. What the judge decides:
//   - a finished task is routed along task/place.ts's places: out of its worker's (or the person's
//     it was escalated to) inbox into their outbox, and a done one on to its sender's inbox;
//   - a file a person dropped into an inbox is completed into a task once it has settled;
//   - a file that is not a task is reported once per content version, after it has settled
//     (settle.ts: an editor truncating then writing is never judged mid-write);
//   - a state change made by a file edit is checked against the last state seen, and reported (not
//     reverted) when the state machine forbids it.

import { limitsOf } from '../src/config/limits.js';
import { livesHere } from '../src/config/where.js';
import { MailroomError } from '../src/errors.js';
import type { Mailroom } from '../src/mailroom.js';
import type { Problem } from '../src/problem.js';
import { TooBigError } from '../src/store/read-file.js';
import { newTaskId } from '../src/task/id.js';
import { act, rememberState, type SeenTask } from './act.js';
import type { KnownState } from './hand-edit.js';
import { type Context as JudgeContext, type Judgement, judge } from './judge.js';
import { catchLateWrites } from './late-writes.js';
import { type ReportBook, SIDECAR_SUFFIX } from './reports.js';
import { type Entry, type ParseCache, readEntry, type Scan, scanBoxes, watchedAgents } from './scan.js';
import { SETTLE_MS, type SeenForms, Settling } from './settle.js';

export interface PassState {
  reports: ReportBook;
  /** id -> last legal state seen (persisted by the caller; ids no longer in any box are dropped). */
  known: Map<string, KnownState>;
  /** Counts changes to `known`, so the caller saves it only when it changed. */
  knownVersion?: number;
  /** The settle rule's memory (settle.ts). */
  seen?: SeenForms;
  /** The parse cache (scan.ts). */
  parsed?: ParseCache;
  /**
   * path -> a task there that could not be moved because its destination holds another copy, with
   * the content it had then. It is not tried again (nor logged again) until its content changes or
   * the destination is freed, so a duplicate costs one lstat per pass, not a move attempt.
   */
  unroutable?: Map<string, { hash: string; dest: string }>;
}

export interface PassOutcome {
  /** The tasks left where they are, for the supervisor. */
  tasks: SeenTask[];
  routed: number;
  moved: number;
  completed: number;
  problems: Problem[];
  /** When a settling file should be looked at again (ms since epoch). */
  recheckAt?: number;
  /** Files this pass found new, changed or gone since the last pass (the rescan's back-off). */
  changedFiles: number;
}

export async function runPass(mr: Mailroom, state: PassState): Promise<PassOutcome> {
  const now = mr.now().getTime();
  state.seen ??= new Map();
  state.parsed ??= new Map();
  const settling = new Settling(state.seen, now);
  const out: PassOutcome = { tasks: [], routed: 0, moved: 0, completed: 0, problems: [], changedFiles: 0 };
  const scan = await scanBoxes(mr, state.parsed, settling);
  out.problems.push(...scan.problems);
  await reportScan(mr, state, scan, out, now);
  const gone = [...state.seen.keys()].filter((path) => !scan.listed.has(path)).length;
  await forgetUnlisted(state, scan);
  out.changedFiles = settling.fresh + gone;

  const copies = new Map<string, Entry[]>();
  for (const e of scan.entries) {
    const same = copies.get(e.id);
    if (same) same.push(e);
    else copies.set(e.id, [e]); // one array per id, not a new one per copy (an idle pass's garbage)
  }
  const ctx: JudgeContext = {
    known: (id) => state.known.get(id),
    copies: (name) => copies.get(name)?.length ?? 0,
    isAgent: (name) => name in mr.config.agents,
    livesHere: (name) => livesHere(mr.config, name),
    placeOf: (agent) => {
      const host = mr.config.agents[agent]?.host;
      return host ? `${host}/${agent}` : agent;
    },
    escalateTo: mr.config.escalate_to,
    now: mr.now(),
    newId: () => newTaskId(mr.now()),
  };
  const acting = { mr, state, copies, out };
  for (const listed of scan.entries) {
    try {
      // An unchanged file costs no read and, when nothing is to be done, no await (an idle pass).
      const e = listed.cached ? listed : await readEntry(listed, settling, limitsOf(mr.config).taskFile);
      if (!e) continue;
      const read = e.cached ? { cached: e.cached.task } : { bytes: e.bytes };
      const j = judge({ agent: e.agent, box: e.box, name: e.id, settled: e.settled, read }, ctx);
      if (!nothingToDo(state, e, j, out)) await act(acting, e, j);
    } catch (err) {
      const reason = err instanceof MailroomError ? err.message : String(err);
      out.problems.push({ path: mr.layout.rel(listed.path), reason });
      // Over limits.task_file: reported once, like any file that is not a task (keyed by its size).
      if (err instanceof TooBigError)
        await state.reports.report(listed.path, Buffer.from(`too big:${err.size}`), `${reason}; ${err.hint}`);
    }
  }
  if (settling.recheckAt !== undefined) out.recheckAt = settling.recheckAt;
  return out;
}

/**
 * An unchanged task that stays where it is, with no report to clear: only remembered and handed to
 * the supervisor (what act() would do, without its awaits).
 */
function nothingToDo(state: PassState, e: Entry, j: Judgement, out: PassOutcome): boolean {
  if (j.kind !== 'task' || j.fresh || j.heal || j.checkArchive || j.route.length > 0 || j.problem)
    return false;
  if (state.reports.open.has(e.path)) return false;
  rememberState(state, j.task);
  out.tasks.push({ agent: e.agent, box: e.box, id: e.id, path: e.path, task: j.task });
  return true;
}

/** What the scan found that is reported rather than judged: unusable folders, links, late writes. */
async function reportScan(mr: Mailroom, state: PassState, scan: Scan, out: PassOutcome, now: number) {
  for (const p of scan.folders) {
    out.problems.push({ path: p.rel, reason: p.reason, hint: p.hint });
    await state.reports.report(
      p.path,
      Buffer.from(`folder: ${p.reason}`),
      `${p.reason}; ${p.hint}`,
      undefined,
      {
        folder: true,
      },
    );
  }
  for (const path of scan.links)
    await state.reports.report(
      path,
      Buffer.from(`symlink:${path}`),
      'symbolic link where a task should be; mailroom never follows links',
    );
  for (const path of scan.keptDrops)
    await catchLateWrites(mr, path, state.seen!, now).catch((err) =>
      out.problems.push({ path: mr.layout.rel(path), reason: String(err) }),
    );
}

/**
 * Reports for files that are gone, and the memory of files and tasks no longer listed. Known states
 * are pruned only after a complete listing (no folder or listing problem), so a box that could not
 * be read for a moment does not lose its tasks' states.
 */
async function forgetUnlisted(state: PassState, scan: Scan): Promise<void> {
  const listed = scan.listed;
  for (const path of [...state.reports.open.keys()])
    if (!listed.has(path)) await state.reports.clear(path, 'gone');
  for (const map of [state.seen, state.parsed, state.unroutable])
    if (map) for (const path of [...map.keys()]) if (!listed.has(path)) map.delete(path);
  if (scan.folders.length > 0 || scan.problems.length > 0) return;
  const ids = new Set(scan.entries.map((e) => e.id));
  for (const id of state.known.keys())
    if (!ids.has(id)) {
      state.known.delete(id);
      state.knownVersion = (state.knownVersion ?? 0) + 1;
    }
}

export { SETTLE_MS, SIDECAR_SUFFIX, watchedAgents };
