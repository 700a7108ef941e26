// One sync pass with one host: scan both sides, reconcile against the last synced state, check
// safety, apply, save the new state. Passes on one host never overlap (a lock under .mailroom/sync/).

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { limitsOf } from '../config/limits.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { localEndpoint } from '../endpoint/local.js';
import { MailroomError, networkError, notFound, refused } from '../errors.js';
import type { Mailroom } from '../mailroom.js';
import { type ApplyReport, applyPlan, emptyApplyReport } from './apply.js';
import { openHost } from './connect-host.js';
import { recordQuarantine } from './quarantine.js';
import { type Plan, reconcile, type SyncInputs } from './reconcile.js';
import { checkSafety } from './safety.js';
import { limitScan, type ScannedTask, type SideScan, scanElsewhere, scanSide, sideClock } from './scan.js';
import { loadSent, saveSent } from './sent.js';
import { loadSyncState, saveSyncState, syncDir } from './state.js';

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
  /** How the far side was reached: its own mailroom agent, or SFTP (with why, when it fell back). */
  transport?: { kind: 'agent' | 'sftp'; note?: string };
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

function toInputs(
  state: Awaited<ReturnType<typeof loadSyncState>>,
  local: SideScan,
  remote: SideScan,
  elsewhere: ReadonlyMap<string, ScannedTask>,
  held: HeldBack,
): SyncInputs {
  // A file skipped on one side is left out on both sides and in the base: unread is never "deleted".
  const keepId = ([id]: [string, unknown]) => !held.ids.has(id);
  const keepPath = ([path]: [string, unknown]) => !held.paths.has(path);
  const version = (t: ScannedTask) => ({ loc: t.loc, hash: t.hash, rank: t.rank });
  const side = (s: SideScan) => ({
    tasks: new Map([...s.tasks].filter(keepId).map(([id, t]) => [id, version(t)])),
    files: new Map([...s.files].filter(keepPath)),
  });
  return {
    elsewhere: new Map([...elsewhere].filter(keepId).map(([id, t]) => [id, version(t)])),
    base: state.base
      ? {
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
  };
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
  return mr.locker(join(syncDir(mr), host), async () => {
    const started = Date.now();
    const mark = (what: string) => {
      if (process.env.MAILROOM_DEBUG_TIMING) process.stderr.write(`  ${what}: ${Date.now() - started} ms\n`);
    };
    // The connection is made while this side's state is loaded and its folders scanned: neither
    // needs the far side (a one-shot pass at 40 ms of round trip spends about 600 ms connecting).
    const connecting = opts.remote
      ? undefined
      : openHost(host, config, {
          agents: hostAgents(mr, host),
          ...(opts.transport ? { transport: opts.transport } : {}),
        });
    connecting?.catch(() => {});
    const state = await loadSyncState(mr, host);
    state.lastAttemptAt = mr.now().toISOString();
    const agents = hostAgents(mr, host);
    const expect = new Map(Object.entries(state.base?.tasks ?? {}).map(([id, t]) => [id, t.loc]));
    const limits = limitsOf(mr.config);
    const local = localEndpoint(mr.layout.root, { label: `local:${mr.layout.root}` });
    const localScan0 = scanSide(local, agents, state.local, {
      clockMs: Date.now(),
      expect,
      limits,
      keepBytes: KEEP_BYTES,
    });
    localScan0.catch(() => {});
    const link = connecting
      ? await connecting.catch(async (err) => {
          state.lastError = err instanceof Error ? err.message : String(err);
          await saveSyncState(mr, state);
          // A refused host key or an unreachable host is a failed sync too: it belongs in the log.
          await mr.log({ type: 'sync.failed', host, reason: state.lastError });
          throw err;
        })
      : undefined;
    const remote = opts.remote ?? link!.endpoint;
    const via = link ? { kind: link.transport, ...(link.note ? { note: link.note } : {}) } : opts.via;
    if (via)
      state.lastTransport = via.kind === 'agent' ? 'far agent' : `SFTP${via.note ? ` (${via.note})` : ''}`;
    mark('connected');
    try {
      // A far agent's scan does not need the folder to exist: its look runs beside the scan.
      const scanRemote0 = remote.scan?.(agents);
      scanRemote0?.catch(() => {});
      if (!(await remote.stat('agents'))) {
        // The far side needs only sshd and the folder: make sure it is the folder we think it is.
        try {
          await remote.mkdirp('agents');
        } catch (err) {
          throw networkError(
            `${host}: cannot use ${config.root} on that machine (${err instanceof Error ? err.message : String(err)})`,
            `create it there (mkdir -p ${config.root}, or \`mailroom init ${config.root}\`), or fix hosts.${host}.root`,
          );
        }
      }
      const budget = { left: limits.syncPass, total: limits.syncPass };
      // A far agent scans its own side (its hashes, its cache); over SFTP the hub scans it.
      const scanRemote = async () =>
        scanRemote0
          ? limitScan(await scanRemote0, limits)
          : scanSide(remote, agents, state.remote, {
              reportForeignAgents: true,
              clockMs: await sideClock(remote),
              expect,
              limits,
              budget,
            });
      const [localScan, remoteScan] = await Promise.all([localScan0, scanRemote()]);
      mark('scanned');
      const held = heldBack(localScan, remoteScan);
      const sent = await loadSent(mr, host);
      // Far tasks missing from the host's folders here may have left them (routed home, escalated):
      // find those ids anywhere else on this machine, so they are settled, not pulled back.
      const elsewhere = await scanElsewhere(
        local,
        agents,
        new Set([...remoteScan.tasks.keys()].filter((id) => !localScan.tasks.has(id))),
      );
      const plan = reconcile(toInputs(state, localScan, remoteScan, elsewhere, held));
      const report: SyncReport = {
        host,
        dryRun: opts.dryRun === true,
        plan: summarise(plan, localScan, remoteScan),
        reads: { local: localScan.reads, remote: remoteScan.reads },
        scanProblems: [
          ...localScan.problems.map((p) => ({ side: 'local' as const, ...p })),
          ...remoteScan.problems.map((p) => ({ side: 'remote' as const, ...p })),
        ],
        partial: held.paths.size > 0,
        skipped: [...held.paths].sort(),
        ...emptyApplyReport(),
        durationMs: 0,
        ...(via ? { transport: via } : {}),
      };
      if (opts.dryRun) {
        report.durationMs = Date.now() - started;
        return report;
      }
      const safety = checkSafety(
        plan,
        {
          local: localScan.tasks.size + localScan.files.size,
          remote: remoteScan.tasks.size + remoteScan.files.size,
        },
        { elsewhere: new Set(elsewhere.keys()) },
      );
      if (!safety.ok) throw refused(`sync with ${host} stopped before changing anything: ${safety.reason}`);
      state.local = localScan.cache;
      state.remote = remoteScan.cache;
      // A task gone from both sides needs no ancestor any more; kept, the scans would look for it
      // again on every pass. Without one, a copy that reappears is copied, never deleted.
      for (const id of Object.keys(state.base?.tasks ?? {}))
        if (!localScan.tasks.has(id) && !remoteScan.tasks.has(id) && !held.ids.has(id))
          delete state.base!.tasks[id];
      const applied = await applyPlan(
        {
          local,
          remote,
          host,
          scans: { local: localScan, remote: remoteScan },
          elsewhere,
          state,
          now: mr.now,
          checkpoint: () => saveSyncState(mr, state),
          hostAgents: agents,
          limits,
          sent,
          ...(opts.lockWaitBudgetMs === undefined ? {} : { lockWaitBudgetMs: opts.lockWaitBudgetMs }),
        },
        plan,
      );
      Object.assign(report, applied);
      await saveSent(mr, host, sent, applied.sentChanged === true);
      report.partial = report.partial || applied.lockSkipped > 0;
      // Never routed, retried or notified: reported in status, doctor and the event log.
      await recordQuarantine(mr, host, applied.quarantined, { replace: true });
      for (const r of applied.refused)
        await mr.log({ type: 'sync.refused', host, id: r.id, reason: r.reason });
      mark('applied');
      state.lastSyncAt = mr.now().toISOString();
      state.lastDurationMs = Date.now() - started;
      delete state.lastError;
      await saveSyncState(mr, state);
      report.durationMs = Date.now() - started;
      if (report.partial)
        await mr.log({
          type: 'sync.partial',
          host,
          reason: `${report.skipped.length + report.lockSkipped} file(s) left for a later pass: ${report.skipped.slice(0, 5).join(', ')}${report.lockSkipped ? ` (${report.lockSkipped} locked)` : ''}`,
        });
      mark('saved');
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
      return report;
    } catch (err) {
      state.lastError = err instanceof Error ? err.message : String(err);
      await saveSyncState(mr, state).catch(() => {});
      if (err instanceof MailroomError) await mr.log({ type: 'sync.failed', host, reason: err.message });
      throw err;
    } finally {
      await link?.close().catch(() => {});
    }
  });
}
