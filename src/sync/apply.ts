// Carries out a reconcile plan on both sides. Invariants:
// - a file is overwritten or removed only under its lock on that side, and only if it still holds
//   exactly the content the scan saw; anything changed since is left alone for the next pass (so an
//   edit made during a pass is never lost);
// - every write is atomic on its side (temp, fsync, rename), so a pass cut off at any byte leaves
//   whole files; a decision fully applied gives an Outcome, and only outcomes change the base
//   (transition.ts, before each checkpoint and at the end), so the next pass redoes the rest. The
//   state is saved at each checkpoint of a long apply; its end is saved by the caller's commit,
//   which follows at once (a save at both cost a second diff of every record and two fsyncs);
// - a task's new copy is written before its old location is removed: never in zero places.

import { basename, dirname } from 'node:path';
import { DEFAULT_LIMITS, type Limits } from '../config/limits.js';
import { putIfHolds, removeIfHolds } from '../endpoint/conditional.js';
import type { Endpoint, EntryStat, ReadLimit } from '../endpoint/endpoint.js';
import { MailroomError } from '../errors.js';
import { mapLimit } from '../map-limit.js';
import { BOXES, type Box } from '../store/layout.js';
import { applyTaskEdit } from '../task/edit.js';
import { parseTask } from '../task/parse.js';
import { baseOf, mergeTask } from './merge-task.js';
import { type Identity, identityOf, judgeProvenance } from './provenance.js';
import type { FileDecision, Plan, Side, TaskDecision } from './reconcile.js';
import {
  rankOf,
  recordHolds,
  recordOfWritten,
  type ScannedTask,
  type SideScan,
  settledMtime,
  sha256,
  taskPath,
} from './scan.js';
import type { SentLedger } from './sent.js';
import { baseFields, type SyncState } from './state.js';
import { type Base, type Outcome, transition } from './transition.js';

export interface ApplyContext {
  local: Endpoint;
  remote: Endpoint;
  host: string;
  scans: Record<Side, SideScan>;
  /** This machine's copies of tasks outside the host's folders, for `fold` decisions. */
  elsewhere?: ReadonlyMap<string, ScannedTask>;
  state: SyncState;
  now: () => Date;
  /** Called every 500 applied changes (at most every CHECKPOINT_MS), so a cut-off pass keeps them; the end is the caller's to save. */
  checkpoint: () => Promise<void>;
  /** The agents configured on the host: a new task from it must come from one of them (provenance.ts). */
  hostAgents: readonly string[];
  /**
   * How long this pass may wait for locks held by others, in all (default 20 s): far lock folders
   * kept fresh by a hostile or stuck process must not make a pass wait 15 s per file. Once spent,
   * each lock is tried once; a file whose lock is held is left for the next pass (and the pass is partial).
   */
  lockWaitBudgetMs?: number;
  /** Size limits (mailroom.yaml `limits:`); defaults when absent. */
  limits?: Limits;
  /** Tasks synced with this host before (sent.ts): known even when the base forgot them. */
  sent?: SentLedger;
  /**
   * Per side and task id, the agents in whose boxes the scans looked for that id just before this
   * apply (the fast path looks at every box of them, one round trip earlier): a copy that appeared
   * there since the look is what the look itself could as well have missed, so it is not looked
   * for again (appearedElsewhere), and a new task's push costs one round trip, not two.
   */
  lookedJustNow?: Partial<Record<Side, ReadonlyMap<string, ReadonlySet<string>>>>;
  /**
   * Per side and task id, paths that must not exist when the task is created there, checked by the
   * endpoint in the create itself (Endpoint.createsIfAbsent): the fast path pushes a new task to a far
   * agent this way, in one round trip instead of a look and then a write.
   */
  absentAt?: Partial<Record<Side, ReadonlyMap<string, readonly string[]>>>;
}

/** A far task never pulled: kept on the host as it is, reported (docs/spec.md §6). */
export interface Quarantined {
  id: string;
  path: string;
  hash: string;
  reason: string;
}

export interface ApplyReport {
  pushed: number;
  pulled: number;
  merged: number;
  deleted: number;
  conflicts: string[];
  problems: { path: string; reason: string }[];
  /** Far tasks that were not the host's to send: not pulled. */
  quarantined: Quarantined[];
  /** Far edits of from/to/id/attempt that were set back (the rest of each edit was kept). */
  refused: { id: string; reason: string }[];
  /** Files left for the next pass because their lock was held (the pass is partial). */
  lockSkipped: number;
  /** The sent ledger gained or changed entries (the caller saves it). */
  sentChanged?: boolean;
}

const other = (s: Side): Side => (s === 'local' ? 'remote' : 'local');

/** How many decisions are applied at once. */
const APPLY_CONCURRENCY = 16;
const CHECKPOINT_MS = 2_000;

class Skip extends Error {}

/** Network failures end the pass (exit 4); everything else is a per-file problem. */
function isFatal(err: unknown): boolean {
  return err instanceof MailroomError && err.kind === 'network';
}

/** A report of nothing done yet (apply fills it; a dry run reports it as it is). */
export const emptyApplyReport = (): ApplyReport => ({
  pushed: 0,
  pulled: 0,
  merged: 0,
  deleted: 0,
  conflicts: [],
  problems: [],
  quarantined: [],
  refused: [],
  lockSkipped: 0,
});

/** One applyPlan call: its context, what it did so far, and its lock and checkpoint clocks. */
interface Run {
  ctx: ApplyContext;
  report: ApplyReport;
  /**
   * The base: each decision reads only its own task's or file's record, which no other decision of
   * the pass changes; outcomes reach it only through transition (settle).
   */
  base: Base;
  /** What finished decisions left on both sides, not yet folded into the state's base. */
  outcomes: Outcome[];
  taskLimit: ReadLimit;
  /** When the pass's lock wait budget is spent (performance.now()). */
  lockDeadline: number;
  /** Decisions that changed a file since the last checkpoint, and when that was. */
  sinceCheckpoint: number;
  checkpointedAt: number;
  /** The first network failure: no new decision starts, and the pass ends with it. */
  fatal: unknown;
}

/** What to report a failed step under, the step, and whether it changes files (counts to a checkpoint). */
type Step = [what: string, step: () => Promise<void>, changes: boolean];

export async function applyPlan(ctx: ApplyContext, plan: Plan): Promise<ApplyReport> {
  const report = emptyApplyReport();
  const taskLimit = { maxBytes: (ctx.limits ?? DEFAULT_LIMITS).taskFile, limitKey: 'limits.task_file' };
  const lockDeadline = performance.now() + (ctx.lockWaitBudgetMs ?? 20_000);
  const run: Run = {
    ctx,
    report,
    base: ctx.state.base ?? { tasks: {}, files: {} },
    outcomes: [],
    taskLimit,
    lockDeadline,
    sinceCheckpoint: 0,
    checkpointedAt: performance.now(),
    fatal: undefined,
  };
  try {
    await runSteps(run, planSteps(run, plan));
  } finally {
    settle(run);
  }
  if (run.fatal) throw run.fatal;
  return report;
}

/** The outcomes so far, folded into the state's base (the one place apply's work reaches it). */
function settle(run: Run): void {
  const { state } = run.ctx;
  state.base = transition(state.base, run.outcomes);
  run.base = state.base;
  run.outcomes = [];
}

async function checkpoint(run: Run): Promise<void> {
  settle(run);
  await run.ctx.checkpoint();
}

/**
 * One step per decision that has work to do. A `same` decision changes no file, only the in-memory
 * base: most are settled here at once, and none counts toward checkpoints (at 10,000 tasks, counting
 * them rewrote the state file 20 times per pass that changed nothing). Those that must read the local
 * copy first (a base without the task's fields) only read: if the pass is cut, the next one sees
 * "both equal" again and reads again.
 */
function planSteps(run: Run, plan: Plan): Step[] {
  const steps: Step[] = [];
  for (const d of plan.tasks) {
    if (d.kind !== 'same') steps.push([`task ${d.id}`, () => applyTask(run, d), true]);
    else if (!baseIsCurrent(run, d.id)) steps.push([`task ${d.id}`, () => applyTask(run, d), false]);
  }
  for (const d of plan.files) {
    if (d.kind === 'same')
      run.outcomes.push({
        kind: 'file-held',
        path: d.path,
        hash: run.ctx.scans.local.files.get(d.path)!.hash,
      });
    else steps.push([d.path, () => applyFile(run, d), true]);
  }
  return steps;
}

/**
 * Decisions touch disjoint paths (one id or one path each), so they run side by side; SFTP requests
 * are pipelined over the one connection, which is what makes a pass fast at scale. A failed step is
 * that decision's problem, except a network failure, which stops the pass (run.fatal).
 */
async function runSteps(run: Run, steps: Step[]): Promise<void> {
  const { ctx, report } = run;
  const parallel = Math.max(
    ctx.local.parallelism ?? APPLY_CONCURRENCY,
    ctx.remote.parallelism ?? APPLY_CONCURRENCY,
  );
  await mapLimit(steps, parallel, async ([what, step, changes]) => {
    if (run.fatal) return;
    try {
      await step();
    } catch (err) {
      if (isFatal(err)) run.fatal ??= err;
      else report.problems.push({ path: what, reason: err instanceof Error ? err.message : String(err) });
    }
    if (changes && checkpointDue(run)) await checkpoint(run);
  }).catch((err: unknown) => {
    run.fatal ??= err;
  });
}

/**
 * Counts one applied change; true when the state is to be saved now. The state is saved every 500
 * changes, at most every 2 s: a pass cut short redoes little, and a first copy of 10,000 tasks saves
 * it a few times instead of 20 (each save writes all of it).
 */
function checkpointDue(run: Run): boolean {
  if (++run.sinceCheckpoint >= 500 && performance.now() - run.checkpointedAt >= CHECKPOINT_MS) {
    run.sinceCheckpoint = 0;
    run.checkpointedAt = performance.now();
    return true;
  }
  return false;
}

const ep = (ctx: ApplyContext, s: Side): Endpoint => (s === 'local' ? ctx.local : ctx.remote);

const count = (report: ApplyReport, written: Side) => {
  if (written === 'remote') report.pushed++;
  else report.pulled++;
};

async function applyTask(run: Run, d: TaskDecision): Promise<void> {
  const { ctx, report } = run;
  if (d.kind === 'same') {
    // Both sides hold the scanned copy; the base may still lack its fields (planSteps).
    const v = ctx.scans.local.tasks.get(d.id)!;
    if (baseIsCurrent(run, d.id)) return;
    const bytes = ctx.scans.local.read?.get(v.path) ?? (await ctx.local.readFile(v.path));
    rememberTask(run, d.id, v.loc, placed(d.id, v.loc, bytes, v));
    return;
  }
  if (d.kind === 'delete') {
    const v = ctx.scans[d.side].tasks.get(d.id)!;
    await remove(run, d.side, v.path, v.hash);
    run.outcomes.push({ kind: 'task-gone', id: d.id });
    report.deleted++;
    return;
  }
  if (d.kind === 'keep') {
    report.problems.push({ path: `task ${d.id}`, reason: d.reason });
    return;
  }
  if (d.kind === 'fold') {
    await foldTask(run, d.id);
    return;
  }
  let bytes: Buffer | undefined;
  let seen: ScannedTask | undefined;
  if (d.kind === 'take') {
    seen = ctx.scans[d.from].tasks.get(d.id)!;
    bytes =
      ctx.scans[d.from].read?.get(seen.path) ?? (await ep(ctx, d.from).readFile(seen.path, run.taskLimit));
    if (d.from === 'remote') bytes = await guard(run, d.id, bytes);
  } else bytes = await mergedTask(run, d.id);
  if (bytes === undefined) return; // quarantined
  const content = placed(d.id, d.loc, bytes, seen);
  // The side that supplied the content may still need to move it to the chosen location.
  for (const s of ['local', 'remote'] as const) await placeTask(run, s, d.id, d.loc, content);
  rememberTask(run, d.id, d.loc, content);
}

/** A task's bytes as apply places them, with their hash and their rank at the decision's place. */
interface Placed {
  bytes: Buffer;
  hash: string;
  /** placeRank at that place; undefined when the bytes do not parse as a task. */
  rank: number | undefined;
}

/**
 * `bytes` of task `id` to be held at `loc`: hashed once, and ranked from the scan when it saw this
 * very content there (a first copy: every task), else parsed once. The rank travels with the writes,
 * so neither this machine nor the far agent parses the task again to record them.
 */
function placed(id: string, loc: string, bytes: Buffer, seen?: ScannedTask): Placed {
  const hash = sha256(bytes);
  if (seen && seen.loc === loc && seen.hash === hash) return { bytes, hash, rank: seen.rank };
  const [agent, box] = loc.split('/') as [string, Box];
  return { bytes, hash, rank: rankOf(bytes, id, agent, box) };
}

/** Both sides changed task `id`: the merge of both copies, as guard lets it in (undefined: quarantined). */
async function mergedTask(run: Run, id: string): Promise<Buffer | undefined> {
  const { ctx, report } = run;
  const l = ctx.scans.local.tasks.get(id)!;
  const r = ctx.scans.remote.tasks.get(id)!;
  const [lt, rt] = await Promise.all([ctx.local.readFile(l.path), ctx.remote.readFile(r.path)]);
  const merged = mergeTask(await baseFields(ctx.state, id), lt.toString('utf8'), rt.toString('utf8'), {
    remoteLabel: ctx.host,
  });
  const judged = await guard(run, id, Buffer.from(merged.text, 'utf8'));
  if (judged === undefined) return undefined;
  report.merged++;
  for (const c of merged.conflicts) report.conflicts.push(`task ${id}: ${c}`);
  return judged;
}

/**
 * The task left the host's folders here (it is at another agent's box); merge the far copy into
 * it where it is, then remove the far copy. The base goes only when both are done.
 */
async function foldTask(run: Run, id: string): Promise<void> {
  const { ctx, report } = run;
  const e = ctx.elsewhere?.get(id);
  const r = ctx.scans.remote.tasks.get(id)!;
  if (!e) throw new Skip(`task ${id}: its copy on this machine is no longer where the scan saw it`);
  const [et, rt] = await Promise.all([ctx.local.readFile(e.path), ctx.remote.readFile(r.path)]);
  const merged = mergeTask(await baseFields(ctx.state, id), et.toString('utf8'), rt.toString('utf8'), {
    remoteLabel: ctx.host,
  });
  const judged = await guard(run, id, Buffer.from(merged.text, 'utf8'));
  if (judged === undefined) return;
  if (await put(run, 'local', e.path, judged, e.hash)) report.merged++;
  for (const c of merged.conflicts) report.conflicts.push(`task ${id}: ${c}`);
  await remove(run, 'remote', r.path, r.hash);
  report.deleted++;
  run.outcomes.push({ kind: 'task-gone', id });
}

async function applyFile(run: Run, d: FileDecision): Promise<void> {
  const { ctx, report, outcomes } = run;
  const lv = ctx.scans.local.files.get(d.path);
  const rv = ctx.scans.remote.files.get(d.path);
  if (d.kind === 'same') {
    outcomes.push({ kind: 'file-held', path: d.path, hash: lv!.hash });
  } else if (d.kind === 'delete') {
    await remove(run, d.side, d.path, (d.side === 'local' ? lv : rv)!.hash);
    outcomes.push({ kind: 'file-gone', path: d.path });
    report.deleted++;
  } else if (d.kind === 'take') {
    const bytes = await ep(ctx, d.from).readFile(d.path);
    const to = other(d.from);
    if (await put(run, to, d.path, bytes, (to === 'local' ? lv : rv)?.hash)) count(report, to);
    outcomes.push({ kind: 'file-held', path: d.path, hash: sha256(bytes) });
  } else {
    // Both changed: the local version stays at the path on both sides, the far one is kept beside it.
    const [lb, rb] = await Promise.all([ctx.local.readFile(d.path), ctx.remote.readFile(d.path)]);
    const copy = conflictName(ctx, d.path);
    await put(run, 'local', copy, rb, undefined);
    await put(run, 'remote', copy, rb, undefined);
    await put(run, 'remote', d.path, lb, rv!.hash);
    outcomes.push({ kind: 'file-held', path: d.path, hash: sha256(lb) });
    outcomes.push({ kind: 'file-held', path: copy, hash: sha256(rb) });
    report.conflicts.push(
      `${d.path}: changed on both sides; the version from ${ctx.host} is kept as ${basename(copy)}`,
    );
  }
}

function conflictName(ctx: ApplyContext, path: string): string {
  const stamp = ctx.now().toISOString().replace(/[-:]/g, '').slice(0, 15);
  const name = basename(path);
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  return `${dirname(path)}/${stem}.conflict-${ctx.host}-${stamp}${ext}`;
}

/** Make side `s` hold the task `id` with `content` at `loc` (and nowhere else). */
async function placeTask(run: Run, s: Side, id: string, loc: string, content: Placed): Promise<void> {
  const { ctx } = run;
  const cur = ctx.scans[s].tasks.get(id);
  const target = taskPath(id, loc);
  // This side held exactly this content at this place when scanned: a put would find it the
  // same under the lock and write nothing, so the lock and the look are skipped (a first copy's
  // source side is every task).
  if (cur && cur.path === target && cur.hash === content.hash) return;
  // A new copy here: is the task in another of its agent's boxes since the scan? An endpoint that
  // checks absent paths in the create itself (a far agent) is asked to, in the put: one request and
  // one round trip, not a look at the boxes and then the put (a first copy of 10,000 tasks made
  // 20,000 looks). Elsewhere it is looked at beside the put's lock (put waits for the answer before
  // it writes), not before it.
  const fastAbsent = cur ? undefined : ctx.absentAt?.[s]?.get(id);
  const others = cur || fastAbsent ? [] : boxesElsewhere(run, s, id, loc, target);
  const inPut = others.length > 0 && ep(ctx, s).createsIfAbsent === true;
  const aside =
    others.length === 0 || inPut
      ? undefined
      : appearedAt(run, s, others).then((at) =>
          at === undefined
            ? undefined
            : `task ${id} appeared at ${at} on ${ep(ctx, s).label} during the sync; the next pass takes it`,
        );
  aside?.catch(() => {}); // awaited by put, unless its lock fails first
  const old = cur && cur.path !== target ? { path: cur.path, hash: cur.hash } : undefined;
  const expect = cur && cur.path === target ? cur.hash : undefined;
  const absent = fastAbsent ?? (inPut ? others : undefined);
  if (await put(run, s, target, content.bytes, expect, old, content.rank, absent, aside))
    count(run.report, s);
  else if (old) await remove(run, s, old.path, old.hash);
}

/**
 * The scan saw no copy of task `id` on side `s`: where one may have appeared since, in another of its
 * agent's boxes (a move during the listing). Such a task must not get a second, stale copy beside it:
 * the next pass sees both. These paths are looked at (appearedAt) or named absent in the create. None
 * when the side was looked at just now, or the scan saw a file there.
 */
function boxesElsewhere(run: Run, s: Side, id: string, loc: string, target: string): string[] {
  const agent = loc.split('/')[0]!;
  if (run.ctx.lookedJustNow?.[s]?.get(id)?.has(agent)) return [];
  return BOXES.map((box) => taskPath(id, `${agent}/${box}`)).filter(
    (path) => path !== target && !run.ctx.scans[s].files.has(path),
  );
}

/** The first of `paths` that exists on side `s` now. */
async function appearedAt(run: Run, s: Side, paths: readonly string[]): Promise<string | undefined> {
  // Looked at side by side: over a far link that is one round trip, not one per box.
  const seen = await Promise.all(paths.map((path) => ep(run.ctx, s).stat(path)));
  return paths.find((_, i) => seen[i] !== undefined);
}

/** Replace (or create) `path` on side `s` with `bytes`, if the side still holds `expect` there. */
async function put(
  run: Run,
  s: Side,
  path: string,
  bytes: Buffer,
  expect: string | undefined,
  removeAfter?: { path: string; hash: string },
  /** A task file's rank at `path`, so that recording the write needs no parse (placed()). */
  rank?: number,
  /** For a create: paths that must not exist either (ApplyContext.absentAt). */
  absent?: readonly string[],
  /** A look beside the lock: a reason there skips the put (placeTask's appearedElsewhere). */
  aside?: Promise<string | undefined>,
): Promise<boolean> {
  const { ctx } = run;
  const e = ep(ctx, s);
  if (absent && !e.createsIfAbsent) throw new Error(`internal error: ${e.label} cannot check absent paths`);
  const why = e.putIf ? await aside : undefined; // a far agent's put is one request: look first
  if (why !== undefined) throw new Skip(why);
  // The file gets a settled mtime on its side's clock, and is recorded below as written: on this
  // machine's disk, and over SFTP with the far clock the scan probed (a far agent records its own).
  const clock = s === 'local' ? Date.now() : e.putIf ? undefined : ctx.scans.remote.clockMs;
  const settle = clock === undefined ? undefined : { clock, mtimeMs: settledMtime(clock) };
  const out = e.putIf
    ? await e.putIf(path, bytes, expect, rank, absent)
    : await putIfHolds(e, path, bytes, expect, {
        hashNow: (p, st) => hashNow(run, s, p, st),
        takeLock: (p) => lockOn(run, s, p),
        ...(settle ? { write: { mtimeMs: settle.mtimeMs } } : {}),
        ...(aside ? { aside } : {}),
      });
  if ('skip' in out) throw new Skip(out.skip);
  if (out.done === 'same') return false;
  // Its size and mtime changed: the next scan re-reads it, unless it is as written (the far agent
  // records its own writes the same way).
  delete ctx.state[s][path];
  if (settle) {
    const { mtimeMs } = settle;
    // Here a look tells whether the file kept that mtime. Over the link the look would cost a round
    // trip per file, and is not needed: the record holds only while the file shows this very size
    // and mtime (recordHolds), which a server that did not keep the mtime, or any later write
    // (stamped "now"), does not show.
    const seen: EntryStat | undefined =
      s === 'local' ? await e.stat(path) : { name: '', kind: 'file', size: bytes.length, mtimeMs };
    const record = recordOfWritten(
      path,
      bytes,
      seen,
      mtimeMs,
      s === 'local' ? Date.now() : settle.clock,
      rank,
    );
    if (record) ctx.state[s][path] = record;
  }
  if (removeAfter) await remove(run, s, removeAfter.path, removeAfter.hash);
  return true;
}

/** Remove `path` on side `s` if it still holds `expect`. */
async function remove(run: Run, s: Side, path: string, expect: string): Promise<void> {
  const e = ep(run.ctx, s);
  const out = e.removeIf
    ? await e.removeIf(path, expect)
    : await removeIfHolds(e, path, expect, {
        hashNow: (p, st) => hashNow(run, s, p, st),
        takeLock: (p) => lockOn(run, s, p),
      });
  if ('skip' in out) throw new Skip(out.skip);
  if (out.done === 'removed') delete run.ctx.state[s][path];
}

/** A lock under the pass's wait budget; a refusal counts as work skipped. */
async function lockOn(run: Run, s: Side, path: string) {
  const left = Math.max(0, Math.min(15_000, run.lockDeadline - performance.now()));
  try {
    return await ep(run.ctx, s).lock(path, { timeoutMs: left });
  } catch (err) {
    if (err instanceof MailroomError && err.kind === 'refused') run.report.lockSkipped++;
    throw err;
  }
}

/**
 * What `path` on side `s` holds now (its lstat just taken, under the lock), by hash: the scan's hash
 * when the size and mtime are still what the scan saw and that mtime was already settled then (the
 * scan's own racy rule, on that side's clock: any write since would have given a newer mtime); else
 * the file is read. Saves reading the far copy of every file a pass overwrites.
 */
async function hashNow(run: Run, s: Side, path: string, current: EntryStat): Promise<string> {
  const seen = run.ctx.state[s][path];
  if (current.kind === 'file' && recordHolds(seen, current)) return seen.hash;
  return sha256(await ep(run.ctx, s).readFile(path));
}

// The base entry of task `id` as now held on both sides.
function rememberTask(run: Run, id: string, loc: string, content: Placed): void {
  const { ctx } = run;
  const b = baseOf(content.bytes.toString('utf8'));
  const { hash, rank = 0 } = content;
  run.outcomes.push({ kind: 'task-held', id, loc, hash, rank, ...(b ? { fields: b } : {}) });
  const who = b ? identityOf(id, b.fields) : undefined;
  const had = ctx.sent?.get(id);
  if (who && ctx.sent && (had?.from !== who.from || had.to !== who.to || had.attempt !== who.attempt)) {
    ctx.sent.set(id, who);
    run.report.sentChanged = true;
  }
}

/** For a `same` task: the base already holds this content with its fields. */
function baseIsCurrent(run: Run, id: string): boolean {
  const b = run.base.tasks[id];
  return b !== undefined && b.hash === run.ctx.scans.local.tasks.get(id)!.hash && b.base !== undefined;
}

/** What this machine holds of task `id` (a copy here, else the base), for the provenance rule. */
async function knownOf(run: Run, id: string): Promise<Identity | undefined> {
  const { ctx } = run;
  const here = ctx.scans.local.tasks.get(id) ?? ctx.elsewhere?.get(id);
  if (here) {
    const parsed = parseTask((await ctx.local.readFile(here.path, run.taskLimit)).toString('utf8'), id);
    if (parsed.ok) return identityOf(id, { ...parsed.value.task });
  }
  const b = await baseFields(ctx.state, id);
  const fromBase = b ? identityOf(id, b.fields) : undefined;
  return fromBase ?? ctx.sent?.get(id);
}

/**
 * A version that came from the host, before it enters this machine: accepted, repaired (its
 * from/to/attempt set back, the refusal reported), or undefined when it is quarantined.
 */
async function guard(run: Run, id: string, bytes: Buffer): Promise<Buffer | undefined> {
  const { ctx, report } = run;
  const parsed = parseTask(bytes.toString('utf8'), id);
  const incoming = parsed.ok ? identityOf(id, { ...parsed.value.task }) : undefined;
  if (!parsed.ok || !incoming) return bytes; // not a task: reconcile only takes tasks that parse
  const verdict = judgeProvenance({
    host: ctx.host,
    hostAgents: ctx.hostAgents,
    known: await knownOf(run, id),
    incoming,
  });
  if (verdict.kind === 'accept') return bytes;
  if (verdict.kind === 'repair') {
    report.refused.push({ id, reason: verdict.reason });
    return Buffer.from(applyTaskEdit(parsed.value.file, { set: verdict.set }), 'utf8');
  }
  const r = ctx.scans.remote.tasks.get(id)!;
  report.quarantined.push({ id, path: r.path, hash: r.hash, reason: verdict.reason });
  return undefined;
}
