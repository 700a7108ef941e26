// One sync pass with one host: scan both sides, reconcile against the last synced state, check
// safety, apply, save the new state. Passes on one host never overlap (a lock under .mailroom/sync/).

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Limits, limitsOf } from '../config/limits.js';
import type { HostConfig } from '../config/schema.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { localEndpoint } from '../endpoint/local.js';
import { MailroomError, networkError, notFound, refused } from '../errors.js';
import type { Mailroom } from '../mailroom.js';
import { parseTask } from '../task/parse.js';
import { type ApplyContext, type ApplyReport, applyPlan, emptyApplyReport } from './apply.js';
import { type HostLink, type OpenHostOptions, openHost, stayedAgentSocket } from './connect-host.js';
import { recordQuarantine } from './quarantine.js';
import { type Lookup, type Plan, reconcile, type Side, type SyncInputs } from './reconcile.js';
import { checkSafety } from './safety.js';
import {
  type ExpectedTasks,
  limitScan,
  lookAgain,
  type ScannedTask,
  type SideCache,
  type SideScan,
  scanElsewhere,
  scanSide,
  sideClock,
} from './scan.js';
import { loadSent, type SentLedger, saveSent } from './sent.js';
import {
  type BaseTask,
  hasSyncState,
  keptAgentPath,
  loadSyncState,
  manifestCopyPath,
  type SyncState,
  saveSyncState,
  syncDir,
} from './state.js';
import type { WatchedListings } from './watched-listings.js';

export interface SyncReport extends ApplyReport {
  host: string;
  dryRun: boolean;
  plan: { push: number; pull: number; merge: number; delete: number; conflict: number };
  reads: { local: number; remote: number };
  scanProblems: { side: 'local' | 'remote'; path: string; reason: string }[];
  /** Work was left for a later pass (a file over a limit or the pass budget, a lock held too long). */
  partial: boolean;
  /** The paths skipped (each also in scanProblems or problems with the reason). */
  skipped: string[];
  durationMs: number;
  /**
   * How the far side was reached: its own mailroom agent (`stayed`: one that stayed from an earlier
   * pass, reached on its socket), or SFTP (with why, when it fell back).
   */
  transport?: { kind: 'agent' | 'sftp'; note?: string; stayed?: boolean };
}

export interface SyncOptions {
  dryRun?: boolean;
  /** The far side already open (the daemon's persistent connection, or a plain folder in tests). */
  remote?: Endpoint;
  /** How `remote` was reached (the daemon's link), for the status; a pass that connects knows. */
  via?: { kind: 'agent' | 'sftp'; note?: string };
  /** Force a transport when this pass opens the connection itself (torture, bench). */
  transport?: 'agent' | 'sftp';
  /** How long the pass may wait for locks held by others, in all (default 20 s; see apply.ts). */
  lockWaitBudgetMs?: number;
  /**
   * This side's box listings a watcher vouches for (the daemon's: watched-listings.ts): the scan
   * lists again only the boxes it reported a change in.
   */
  localListings?: WatchedListings;
}

export function hostAgents(mr: Mailroom, host: string): string[] {
  return Object.entries(mr.config.agents)
    .filter(([, a]) => a?.host === host)
    .map(([name]) => name)
    .sort();
}

/** What this pass decides nothing about: files a scan skipped (over a limit), by path and task id. */
export interface HeldBack {
  paths: Set<string>;
  ids: Set<string>;
}

/** Bytes of this machine's files a scan keeps for apply to send without reading them again. */
const KEEP_BYTES = 64 * 1024 * 1024;
const TASK_PATH = /^agents\/[^/]+\/(?:inbox|outbox|archive)\/([^/]+)\.md$/;

export function heldBack(local: SideScan, remote: SideScan): HeldBack {
  const paths = new Set([...local.skipped, ...remote.skipped]);
  const ids = new Set<string>();
  for (const p of paths) {
    const id = TASK_PATH.exec(p)?.[1];
    if (id !== undefined) ids.add(id);
  }
  return { paths, ids };
}

/** A record as reconcile reads it (Lookup), without a copy; own keys only. */
const inPlace = <V>(record: Record<string, V>): Lookup<V> => ({
  get: (key) => (Object.hasOwn(record, key) ? record[key] : undefined),
  keys: () => Object.keys(record),
});

function toInputs(
  state: Awaited<ReturnType<typeof loadSyncState>>,
  local: SideScan,
  remote: SideScan,
  elsewhere: ReadonlyMap<string, ScannedTask>,
  held: HeldBack,
  synced: Pick<ReadonlySet<string>, 'has'>,
): SyncInputs {
  // A file skipped on one side is left out on both sides and in the base: unread is never "deleted".
  const keepId = ([id]: [string, unknown]) => !held.ids.has(id);
  const keepPath = ([path]: [string, unknown]) => !held.paths.has(path);
  const version = (t: ScannedTask) => ({ loc: t.loc, hash: t.hash, rank: t.rank });
  // Nothing held back (the usual pass): the scans' own maps, not copies (reconcile only reads them;
  // copying 10,000 tasks per side was ~30 ms of a one-shot pass after the far reply).
  const noneHeld = held.ids.size === 0 && held.paths.size === 0;
  const side = (s: SideScan) =>
    noneHeld
      ? { tasks: s.tasks, files: s.files }
      : {
          tasks: new Map([...s.tasks].filter(keepId).map(([id, t]) => [id, version(t)])),
          files: new Map([...s.files].filter(keepPath)),
        };
  return {
    elsewhere: new Map([...elsewhere].filter(keepId).map(([id, t]) => [id, version(t)])),
    base: state.base
      ? noneHeld
        ? // Read in place: copying 10,000 base tasks into a Map was ~7 ms of every pass.
          { tasks: inPlace(state.base.tasks), files: inPlace(state.base.files) }
        : {
            tasks: new Map(
              Object.entries(state.base.tasks)
                .filter(keepId)
                .map(([id, t]) => [id, { loc: t.loc, hash: t.hash, rank: t.rank }]),
            ),
            files: new Map(Object.entries(state.base.files).filter(keepPath)),
          }
      : undefined,
    local: side(local),
    remote: side(remote),
    synced,
  };
}

/**
 * Ids of tasks this machine holds outside the host's folders that the host was given: in the sent
 * ledger, or, for one without a base record, this machine's copy names one of the host's agents as
 * `to` or `from` (the ledger misses a task whose only recorded pass died before saving it). A far
 * copy of such a task is a version of ours and is folded in (reconcile.ts); another far host's
 * reuse of an id it was never given is left alone.
 */
async function givenToHost(
  pass: Pass,
  elsewhere: ReadonlyMap<string, ScannedTask>,
  sent: SentLedger,
): Promise<Pick<ReadonlySet<string>, 'has'>> {
  // The ledger as it is (10,000 ids at scale: not copied per pass), and the few found here.
  const named = new Set<string>();
  const given = { has: (id: string) => sent.has(id) || named.has(id) };
  for (const [id, e] of elsewhere) {
    if (given.has(id) || pass.state.base?.tasks[id]) continue;
    const bytes = await pass.local
      .readFile(e.path, { maxBytes: pass.limits.taskFile })
      .catch(() => undefined);
    const parsed = bytes && parseTask(bytes.toString('utf8'), id);
    if (parsed?.ok && [parsed.value.task.to, parsed.value.task.from].some((a) => pass.agents.includes(a)))
      named.add(id);
  }
  return given;
}

function summarise(plan: Plan, localScan: SideScan, remoteScan: SideScan): SyncReport['plan'] {
  const out = { push: 0, pull: 0, merge: 0, delete: 0, conflict: 0 };
  for (const d of plan.tasks) {
    if (d.kind === 'take') {
      const from = d.from === 'local' ? localScan : remoteScan;
      const to = d.from === 'local' ? remoteScan : localScan;
      if (to.tasks.get(d.id)?.hash !== from.tasks.get(d.id)?.hash || to.tasks.get(d.id)?.loc !== d.loc) {
        if (d.from === 'local') out.push++;
        else out.pull++;
      }
    } else if (d.kind === 'merge' || d.kind === 'fold') out.merge++;
    else if (d.kind === 'delete') out.delete++;
  }
  for (const d of plan.files) {
    if (d.kind === 'take') d.from === 'local' ? out.push++ : out.pull++;
    else if (d.kind === 'delete') out.delete++;
    else if (d.kind === 'conflict') out.conflict++;
  }
  return out;
}

export async function syncHost(mr: Mailroom, host: string, opts: SyncOptions = {}): Promise<SyncReport> {
  const config = mr.config.hosts[host];
  if (!config)
    throw notFound(
      `no host named "${host}"`,
      'list hosts with `mailroom host ls`; add one with `mailroom host add`',
    );
  await mkdir(syncDir(mr), { recursive: true });
  return mr.locker(join(syncDir(mr), host), () => lockedPass(mr, host, config, opts));
}

/** One pass with one host, as its stages see it. */
interface Pass {
  mr: Mailroom;
  host: string;
  config: HostConfig;
  opts: SyncOptions;
  /** When the pass started (Date.now()), for its duration and the debug timings. */
  started: number;
  state: SyncState;
  agents: string[];
  /** Where the base last saw each task (id -> `agent/box`): scans look again for one they miss. */
  expect: ExpectedTasks;
  limits: Limits;
  local: Endpoint;
}

type Via = SyncReport['transport'];

/** Under the host's sync lock: connect, then sync both sides; a failure is saved and logged. */
async function lockedPass(
  mr: Mailroom,
  host: string,
  config: HostConfig,
  opts: SyncOptions,
): Promise<SyncReport> {
  const started = Date.now();
  // This side's state is loaded and its folders scanned while the far agent starts and scans: neither
  // needs the far side. Not before the far side has been asked, though: the SSH handshake's round
  // trips, and then the exec's two and the far agent's hello, are each answered only when this
  // process is idle, and loading and scanning 10,000 tasks keeps it busy in long synchronous
  // stretches (at 40 ms of round trip the handshake took ~300 ms longer beside them, and the far
  // agent was started 50 ms and sent its hello ~170 ms later than it could have been).
  let farStarted!: () => void;
  const farAsked = new Promise<void>((resolve) => {
    farStarted = resolve;
  });
  const hostOpts: OpenHostOptions = {
    agents: hostAgents(mr, host),
    manifestCopy: manifestCopyPath(mr, host),
    keptAgent: keptAgentPath(mr, host),
    onFarStarted: farStarted,
    ...(opts.transport ? { transport: opts.transport } : {}),
  };
  const farAgentStays = !opts.remote && stayedAgentSocket(config, hostOpts) !== undefined;
  const firstPass = !opts.remote && !farAgentStays && !hasSyncState(mr, host);
  const connecting = opts.remote ? undefined : openHost(host, config, hostOpts);
  if (connecting) {
    connecting.catch(() => {}).finally(farStarted); // failed: the pass records why, below
    // With a far agent that stayed (its socket noted: kept-agent.ts), its reply comes a round trip
    // after the handshake and this side's scan is what the pass waits for: it starts at once
    // (measured at 10,000 tasks over 40 ms: the handshake ~40 ms later, the pass ~100 ms sooner).
    // So it does in a first pass with this host (no sync state: nothing here is known, every task is
    // read and hashed, a second at 10,000 tasks, which the far side's start cannot outlast).
    if (farAgentStays) markAt(started, 'a far agent stayed');
    else if (firstPass) markAt(started, 'a first pass');
    else {
      await farAsked;
      markAt(started, 'far side asked');
    }
  }
  const pass = await openPass(mr, host, config, opts, started);
  // A first pass's scan, beside the handshake, lets the event loop turn as it reads (ScanOptions.breathe).
  const localScan = scanHere(pass, firstPass);
  if (process.env.MAILROOM_DEBUG_TIMING)
    void localScan.then(
      () => mark(pass, 'local scan done'),
      () => {},
    );
  const link = connecting ? await connected(pass, connecting) : undefined;
  const remote = opts.remote ?? link!.endpoint;
  remote.newPass?.(); // a kept endpoint (the daemon's) forgets what it saw of the far tree before
  const via = link
    ? {
        kind: link.transport,
        ...(link.note ? { note: link.note } : {}),
        ...(link.stayed ? { stayed: true } : {}),
      }
    : opts.via;
  if (via)
    pass.state.lastTransport = via.kind === 'agent' ? 'far agent' : `SFTP${via.note ? ` (${via.note})` : ''}`;
  mark(pass, 'connected');
  try {
    return await syncSides(pass, remote, via, localScan);
  } catch (err) {
    await recordFailure(pass, err);
    throw err;
  } finally {
    await link?.close().catch(() => {});
    mark(pass, 'closed');
  }
}

/**
 * The base's tasks as id -> `agent/box`, read where they are: the scans look at them before the pass
 * changes the base (adoptScans, after both scans).
 */
const baseLocations = (tasks: Record<string, BaseTask>): ExpectedTasks => ({
  forEach: (visit) => {
    for (const id of Object.keys(tasks)) visit(tasks[id]!.loc, id);
  },
});

/** The pass's state loaded (its attempt noted) and what its stages share. */
async function openPass(
  mr: Mailroom,
  host: string,
  config: HostConfig,
  opts: SyncOptions,
  started: number,
): Promise<Pass> {
  const state = await loadSyncState(mr, host);
  state.lastAttemptAt = mr.now().toISOString();
  return {
    mr,
    host,
    config,
    opts,
    started,
    state,
    agents: hostAgents(mr, host),
    expect: baseLocations(state.base?.tasks ?? {}),
    limits: limitsOf(mr.config),
    local: localEndpoint(mr.layout.root, { label: `local:${mr.layout.root}` }),
  };
}

const mark = (pass: Pass, what: string): void => markAt(pass.started, what);

function markAt(started: number, what: string): void {
  if (process.env.MAILROOM_DEBUG_TIMING)
    process.stderr.write(
      `  ${what}: ${Date.now() - started} ms (process: ${performance.now().toFixed(0)} ms)\n`,
    );
}

/** This side's scan, started at once (it needs no connection); awaited with the far one. */
function scanHere(pass: Pass, breathe = false): Promise<SideScan> {
  const scan = (async () => {
    const listings = await pass.opts.localListings?.round(pass.local);
    return scanSide(pass.local, pass.agents, pass.state.local, {
      clockMs: Date.now(),
      expect: pass.expect,
      limits: pass.limits,
      keepBytes: KEEP_BYTES,
      ...(listings ? { listings } : {}),
      ...(breathe ? { breathe } : {}),
    });
  })();
  scan.catch(() => {});
  return scan;
}

/** The link once connected; a refused host key or an unreachable host is a failed sync too. */
function connected(pass: Pass, connecting: Promise<HostLink>): Promise<HostLink> {
  const { mr, host, state } = pass;
  return connecting.catch(async (err) => {
    state.lastError = err instanceof Error ? err.message : String(err);
    await saveSyncState(mr, state);
    // It belongs in the log, like any failed sync.
    await mr.log({ type: 'sync.failed', host, reason: state.lastError });
    throw err;
  });
}

/** Scan both sides, reconcile, check safety, apply, save. */
async function syncSides(
  pass: Pass,
  remote: Endpoint,
  via: Via,
  localScan: Promise<SideScan>,
): Promise<SyncReport> {
  const { mr, host, state } = pass;
  // Read while the far side scans (under the host's sync lock, as every write of it is).
  const sentLoad = loadSent(mr, host);
  sentLoad.catch(() => {});
  const scans = await scanBoth(pass, remote, localScan);
  mark(pass, 'scanned');
  const held = heldBack(scans.local, scans.remote);
  const sent = await sentLoad;
  // Far tasks missing from the host's folders here may have left them (routed home, escalated):
  // find those ids anywhere else on this machine, so they are settled, not pulled back.
  const elsewhere = await scanElsewhere(
    pass.local,
    pass.agents,
    new Set([...scans.remote.tasks.keys()].filter((id) => !scans.local.tasks.has(id))),
  );
  const given = await givenToHost(pass, elsewhere, sent);
  const plan = reconcile(toInputs(state, scans.local, scans.remote, elsewhere, held, given));
  const report = newReport(pass, plan, scans, held, via);
  if (pass.opts.dryRun) {
    report.durationMs = Date.now() - pass.started;
    return report;
  }
  refuseUnsafe(host, plan, scans, elsewhere);
  adoptScans(state, scans, held, remote.scan !== undefined);
  const applied = await applyPlan(applyContext(pass, remote, scans, elsewhere, sent), plan);
  await recordApplied(pass, report, applied, sent);
  await commitPass(pass, report, applied);
  return report;
}

/** This side's scan (started before connecting) and the far side's, side by side. */
async function scanBoth(
  pass: Pass,
  remote: Endpoint,
  localScan: Promise<SideScan>,
): Promise<Record<Side, SideScan>> {
  // The scans do not need the far folder to exist (a missing one lists as empty), so the look that
  // makes sure of it runs beside them; only the SFTP clock probe, written there, waits for it. A far
  // agent's scan that found anything shows the folder is there: then no look (a round trip that,
  // queued behind this side's scan, was the last thing a daemon's full pass waited for).
  const farScan = remote.scan?.(pass.agents);
  farScan?.catch(() => {});
  const ensured = farScan
    ? farScan.then((s) => (s.tasks.size > 0 || s.files.size > 0 ? undefined : ensureFarFolder(pass, remote)))
    : ensureFarFolder(pass, remote);
  ensured.catch(() => {});
  const far = scanFar(pass, remote, farScan, ensured);
  far.catch(() => {});
  await ensured; // its refusal (the folder cannot be made) is the one to report
  const [local, scanned] = await Promise.all([localScan, far]);
  return { local, remote: scanned };
}

/** The far side needs only sshd and the folder: make sure it is the folder we think it is. */
async function ensureFarFolder(pass: Pass, remote: Endpoint): Promise<void> {
  if (await remote.stat('agents')) return;
  const { host, config } = pass;
  try {
    await remote.mkdirp('agents');
  } catch (err) {
    throw networkError(
      `${host}: cannot use ${config.root} on that machine (${err instanceof Error ? err.message : String(err)})`,
      `create it there (mkdir -p ${config.root}, or \`mailroom init ${config.root}\`), or fix hosts.${host}.root`,
    );
  }
}

/** A far agent scans its own side (its hashes, its cache); over SFTP the hub scans it. */
async function scanFar(
  pass: Pass,
  remote: Endpoint,
  farScan: Promise<SideScan> | undefined,
  ensured: Promise<void>,
) {
  const { limits } = pass;
  if (farScan) {
    const farScanned = await farScan;
    mark(pass, 'far scan in');
    const scan = limitScan(farScanned, limits);
    await lookAgain(remote, pass.agents, pass.expect, scan, limits);
    return scan;
  }
  const budget = { left: limits.syncPass, total: limits.syncPass };
  return scanSide(remote, pass.agents, await farCacheForSftp(pass), {
    reportForeignAgents: true,
    clockMs: ensured.then(() => sideClock(remote)), // probed while the folders are listed
    expect: pass.expect,
    limits,
    budget,
  });
}

/**
 * The far records an SFTP scan trusts: the state's, or, when there are none because the far agent
 * answered the last passes (it keeps its own; see adoptScans), the records of its last manifest that
 * this machine kept, so that falling back to SFTP does not read every far file again.
 */
async function farCacheForSftp(pass: Pass): Promise<SideCache> {
  const { state } = pass;
  for (const _ in state.remote) return state.remote;
  // Only for the SFTP fallback: not loaded at every start.
  const [{ parseKept }, { recordOf }] = await Promise.all([
    import('../remote/manifest-copy.js'),
    import('../remote/far-scan.js'),
  ]);
  const kept = parseKept(await readFile(manifestCopyPath(pass.mr, pass.host), 'utf8').catch(() => ''));
  if (kept?.agents !== pass.agents.join('\n')) return state.remote;
  const cache: SideCache = {};
  const { records } = kept.manifest;
  for (const path of Object.keys(records)) {
    const r = recordOf(records[path]!);
    // SFTP gives whole seconds. A record is trusted only for an mtime 2 s before its hash was taken
    // (recordHolds), so a later write always lands in another second than the one recorded.
    cache[path] = { ...r, mtimeMs: Math.floor(r.mtimeMs / 1000) * 1000 };
  }
  return cache;
}

/** The report before apply: the plan's counts and what the scans found or skipped. */
function newReport(
  pass: Pass,
  plan: Plan,
  scans: Record<Side, SideScan>,
  held: HeldBack,
  via: Via,
): SyncReport {
  return {
    host: pass.host,
    dryRun: pass.opts.dryRun === true,
    plan: summarise(plan, scans.local, scans.remote),
    reads: { local: scans.local.reads, remote: scans.remote.reads },
    scanProblems: [
      ...scans.local.problems.map((p) => ({ side: 'local' as const, ...p })),
      ...scans.remote.problems.map((p) => ({ side: 'remote' as const, ...p })),
    ],
    partial: held.paths.size > 0,
    skipped: [...held.paths].sort(),
    ...emptyApplyReport(),
    durationMs: 0,
    ...(via ? { transport: via } : {}),
  };
}

/** A plan that would empty a side (an emptied or unmounted folder) stops the pass before any write. */
function refuseUnsafe(
  host: string,
  plan: Plan,
  scans: Record<Side, SideScan>,
  elsewhere: ReadonlyMap<string, ScannedTask>,
): void {
  const safety = checkSafety(
    plan,
    {
      local: scans.local.tasks.size + scans.local.files.size,
      remote: scans.remote.tasks.size + scans.remote.files.size,
    },
    { elsewhere: new Set(elsewhere.keys()) },
  );
  if (!safety.ok) throw refused(`sync with ${host} stopped before changing anything: ${safety.reason}`);
}

/**
 * The scans become the sides' caches, and the base forgets tasks gone from both sides. A far side
 * that scanned itself (the far agent) keeps its own records, and this machine its last manifest
 * (manifest-copy.ts): the state keeps no far records then (a fifth of its size, read at every pass).
 */
function adoptScans(
  state: SyncState,
  scans: Record<Side, SideScan>,
  held: HeldBack,
  farScanned: boolean,
): void {
  state.local = scans.local.cache;
  state.remote = farScanned ? {} : scans.remote.cache;
  // A task gone from both sides needs no base record any more; kept, the scans would look for it
  // again on every pass. Without one, a copy that reappears is copied, never deleted.
  for (const id of Object.keys(state.base?.tasks ?? {}))
    if (!scans.local.tasks.has(id) && !scans.remote.tasks.has(id) && !held.ids.has(id))
      delete state.base!.tasks[id];
}

/** What apply works with: both sides and their scans, the state it updates and checkpoints. */
function applyContext(
  pass: Pass,
  remote: Endpoint,
  scans: Record<Side, SideScan>,
  elsewhere: ReadonlyMap<string, ScannedTask>,
  sent: SentLedger,
): ApplyContext {
  const { mr, host, state, opts } = pass;
  return {
    local: pass.local,
    remote,
    host,
    scans,
    elsewhere,
    state,
    now: mr.now,
    checkpoint: () => saveSyncState(mr, state),
    hostAgents: pass.agents,
    limits: pass.limits,
    sent,
    ...(opts.lockWaitBudgetMs === undefined ? {} : { lockWaitBudgetMs: opts.lockWaitBudgetMs }),
  };
}

/** What apply did: into the report, the sent ledger, the quarantine and the event log. */
async function recordApplied(
  pass: Pass,
  report: SyncReport,
  applied: ApplyReport,
  sent: SentLedger,
): Promise<void> {
  const { mr, host } = pass;
  Object.assign(report, applied);
  await saveSent(mr, host, sent, applied.sentChanged === true);
  report.partial = report.partial || applied.lockSkipped > 0;
  // Never routed, retried or notified: reported in status, doctor and the event log.
  await recordQuarantine(mr, host, applied.quarantined, { replace: true });
  for (const r of applied.refused) await mr.log({ type: 'sync.refused', host, id: r.id, reason: r.reason });
  mark(pass, 'applied');
}

/** The pass's end: the new state saved (the commit), then the event log told what it did. */
async function commitPass(pass: Pass, report: SyncReport, applied: ApplyReport): Promise<void> {
  const { mr, host, state } = pass;
  state.lastSyncAt = mr.now().toISOString();
  state.lastDurationMs = Date.now() - pass.started;
  delete state.lastError;
  await saveSyncState(mr, state);
  report.durationMs = Date.now() - pass.started;
  if (report.partial)
    await mr.log({
      type: 'sync.partial',
      host,
      reason: `${report.skipped.length + report.lockSkipped} file(s) left for a later pass: ${report.skipped.slice(0, 5).join(', ')}${report.lockSkipped ? ` (${report.lockSkipped} locked)` : ''}`,
    });
  mark(pass, 'saved');
  if (
    applied.pushed + applied.pulled + applied.merged + applied.deleted > 0 ||
    applied.conflicts.length > 0
  ) {
    await mr.log({
      type: 'sync.pass',
      host,
      pushed: applied.pushed,
      pulled: applied.pulled,
      merged: applied.merged,
      deleted: applied.deleted,
      conflicts: applied.conflicts.length,
    });
  }
}

/** A failed pass: its error kept in the state (for status) and, if it is one of ours, in the log. */
async function recordFailure(pass: Pass, err: unknown): Promise<void> {
  const { mr, host, state } = pass;
  state.lastError = err instanceof Error ? err.message : String(err);
  await saveSyncState(mr, state).catch(() => {});
  if (err instanceof MailroomError) await mr.log({ type: 'sync.failed', host, reason: err.message });
}
