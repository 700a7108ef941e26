// Figures 1 and 2: an incremental sync (K of N tasks changed on the hub) and a no-op sync, by
//   - the daemon's pass: syncHost over a connection opened once and kept (as daemon/sync-loop.ts does),
//   - a one-shot `mailroom sync` process (fresh node, fresh SSH connection, as cron would run it),
//   - rsync -a --delete over ssh, and Unison when installed (fresh connection each run).
// Every tool syncs its own far folder, pre-synced before anything is timed, and every timed round
// starts from the same state for all of them: the round's K changes are made, then each tool runs once.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { sftpEndpoint } from '../src/endpoint/sftp.js';
import { openMailroom } from '../src/mailroom.js';
import type { SftpSession } from '../src/ssh/sftp-session.js';
import { syncChanged } from '../src/sync/changed.js';
import { openHost } from '../src/sync/connect-host.js';
import { hostAgents, type SyncReport, syncHost } from '../src/sync/pass.js';
import { rsyncTree, type SshTarget, sshTrue } from './far-tools.js';
import { changeTasks, HOST, type Hub, spread } from './fixture.js';
import { CLI, nodeEnv } from './mailroom-cli.js';
import { mustRun, type Samples, sampleUnderBudget, summarise, timed } from './measure.js';

export interface SyncBenchOptions {
  hub: Hub;
  ssh: SshTarget;
  far: { mailroom: string; rsync: string; unison: string };
  unison?: (local: string, far: string) => Promise<unknown>;
  changed: number;
  reps: number;
  /** The far mailroom folder was seeded with a copy; false: mailroom's first pass pushes everything. */
  seeded: boolean;
  /** Time each kind of round may take, asked when it starts (the bench's time plan). */
  budget: { incremental: () => number; noop: () => number };
  say: (line: string) => void;
  /** Task indices the sync rounds must not touch (kept queued for `mailroom ack`). */
  reserved: ReadonlySet<number>;
}

export interface SyncFigures {
  setup: { sshTrueMs: number; connectMs: number; transport: string; initialMs: Record<string, number> };
  incremental: ToolSamples;
  noop: ToolSamples;
  /** Files re-read (not served from the scan cache) per pass, median: what the pass had to hash. */
  reads: { incremental: { local: number; remote: number }; noop: { local: number; remote: number } };
  /** SFTP requests one daemon pass issues, by kind (counted on a second channel of the same link). */
  sftpRequests: { noop: Record<string, number>; incremental: Record<string, number> };
  /** One-shot process: the pass itself (connect + scan + apply + save), as the CLI's --json reports it. */
  oneShotPassMs: Samples;
  warnings: string[];
}

type Kind = 'daemonPass' | 'daemonFast' | 'oneShot' | 'rsync' | 'unison';
/** Per tool; unison only when it is installed. */
export type ToolSamples = Record<Exclude<Kind, 'unison'>, Samples> & { unison: Samples | undefined };

/** An SftpSession that counts the requests made through it (diagnostics only). */
function countingSession(session: SftpSession, counts: Record<string, number>): SftpSession {
  return new Proxy(session, {
    get(target, prop, _receiver) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        counts[String(prop)] = (counts[String(prop)] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const problemsOf = (r: SyncReport) =>
  [...r.problems, ...r.scanProblems].map((p) => `; ${p.path}: ${p.reason}`).join('');

const medianOf = (xs: number[]) => summarise(xs).medianMs;

export async function benchSync(o: SyncBenchOptions): Promise<SyncFigures> {
  const warnings: string[] = [];
  const mr = await openMailroom(o.hub.root);
  const ssh = await sshTrue(o.ssh);
  // Opened as the daemon opens it (daemon/sync-loop.ts): the far mailroom agent when the far side has
  // one, which it has here. Without `agents`, openHost gives SFTP, and the one-shot process (which
  // uses the agent) would then find a far scan cache that the daemon passes never kept.
  const connect = await timed(() => openHost(HOST, mr.config.hosts[HOST]!, { agents: hostAgents(mr, HOST) }));
  const link = connect.value;
  try {
    const daemonPass = () => syncHost(mr, HOST, { remote: link.endpoint });
    const agentsOf = (root: string) => join(root, 'agents');

    // Setup, untimed as far as targets go: each tool's first pass, all three side by side (they touch
    // different far folders; only the time of the whole run is at stake here). By default the far
    // mailroom folder was seeded with a copy (as if the user had copied it once): mailroom's first
    // pass adopts it, hashing both sides, instead of pushing every file (--initial-push).
    o.say(
      `first passes, side by side: mailroom ${o.seeded ? 'adopting the pre-copied far folder' : `pushing ${o.hub.tasks.length} tasks`}, rsync and unison copying...`,
    );
    await mkdir(o.far.rsync, { recursive: true });
    await mkdir(agentsOf(o.far.unison), { recursive: true });
    const [initialMailroom, initialRsync, initialUnison] = await Promise.all([
      timed(daemonPass),
      timed(() => rsyncTree(o.ssh, agentsOf(o.hub.root), agentsOf(o.far.rsync))),
      o.unison ? timed(() => o.unison!(agentsOf(o.hub.root), agentsOf(o.far.unison))) : undefined,
    ]);
    const moved = initialMailroom.value.pushed + initialMailroom.value.pulled + initialMailroom.value.merged;
    if (o.seeded && moved > 0)
      warnings.push(`the first mailroom pass moved ${moved} files; expected none (identical copies)`);
    if (!o.seeded && initialMailroom.value.pushed < o.hub.tasks.length)
      warnings.push(
        `the first mailroom pass pushed ${initialMailroom.value.pushed} of ${o.hub.tasks.length} tasks`,
      );
    const initialMs: Record<string, number> = { mailroom: initialMailroom.ms, rsync: initialRsync.ms };
    if (initialUnison) initialMs.unison = initialUnison.ms;

    // The scan trusts a cached hash only once the file's mtime is 2 s older than the scan that took
    // it (scan.ts, the racy rule); the tasks are dated an hour back, so one check pass should find
    // nothing to re-read. If it does, wait the window out and pass again.
    for (let i = 0; i < 4; i++) {
      const r = await daemonPass();
      if (r.reads.local + r.reads.remote === 0) break;
      o.say(`warm-up pass ${i + 1}: re-read ${r.reads.local} local and ${r.reads.remote} far files`);
      await delay(2_100);
    }

    const samples: Record<Kind, number[]> = {
      daemonPass: [],
      daemonFast: [],
      oneShot: [],
      rsync: [],
      unison: [],
    };
    const reads: { incremental: SyncReport['reads'][]; noop: SyncReport['reads'][] } = {
      incremental: [],
      noop: [],
    };
    const oneShotPass: number[] = [];
    const runOthers = async (into: Record<Kind, number[]>) => {
      into.rsync.push((await rsyncTree(o.ssh, agentsOf(o.hub.root), agentsOf(o.far.rsync))).ms);
      if (o.unison)
        into.unison.push((await timed(() => o.unison!(agentsOf(o.hub.root), agentsOf(o.far.unison)))).ms);
    };
    const oneShot = async (expectPushed: number) => {
      const r = await mustRun(process.execPath, [CLI, 'sync', HOST, '--root', o.hub.root, '--json'], {
        env: nodeEnv(),
      });
      const report = (JSON.parse(r.stdout) as { hosts: SyncReport[] }).hosts[0]!;
      if (report.pushed !== expectPushed)
        warnings.push(`one-shot sync pushed ${report.pushed}, expected ${expectPushed}${problemsOf(report)}`);
      if (expectPushed > 0) oneShotPass.push(report.durationMs);
      return r.ms;
    };

    // Diagnostics: the SFTP requests one pass makes, by kind, on a second channel of the same link.
    const counts = { noop: {} as Record<string, number>, incremental: {} as Record<string, number> };
    const countRequests = async (into: Record<string, number>) => {
      const counted = sftpEndpoint(countingSession(await link.connection.sftp(), into), {
        root: mr.config.hosts[HOST]!.root,
        label: `${HOST} (counted)`,
      });
      await syncHost(mr, HOST, { remote: counted });
      await counted.close();
      delete into.end;
    };

    // No-op rounds first: the check pass just found nothing to re-read, so these are true no-ops.
    o.say('no-op rounds...');
    const noop: Record<Kind, number[]> = {
      daemonPass: [],
      daemonFast: [],
      oneShot: [],
      rsync: [],
      unison: [],
    };
    await sampleUnderBudget(o.reps, o.budget.noop(), async () => {
      const { ms, value } = await timed(daemonPass);
      noop.daemonPass.push(ms);
      reads.noop.push(value.reads);
      noop.oneShot.push(await oneShot(0));
      await runOthers(noop);
    });
    // The far agent's scan records carry its own stamps; SFTP v3 reports whole-second mtimes, so the
    // first SFTP pass after agent passes re-reads every far file once (a transport switch costs
    // that). Counted from the second: what a daemon on the SFTP fallback pays per no-op pass.
    await countRequests({});
    await countRequests(counts.noop);
    // Still nothing in the racy window: this pass reads exactly the K changed files.
    await changeTasks(o.hub, spread(o.hub, o.changed, 0, o.reserved), 1);
    await countRequests(counts.incremental);

    // Incremental rounds: the K changes of a round, then every tool once. The daemon pass and the
    // one-shot process sync the same far folder, so they take turns (round A, round B).
    o.say(`incremental rounds (${o.changed} of ${o.hub.tasks.length} tasks changed per round)...`);
    let round = 1;
    await sampleUnderBudget(o.reps, o.budget.incremental(), async () => {
      for (const kind of ['daemonPass', 'daemonFast', 'oneShot'] as const) {
        const which = spread(o.hub, o.changed, round, o.reserved);
        await changeTasks(o.hub, which, ++round);
        if (kind === 'daemonFast') {
          // What the daemon runs when its watcher reports these K files: the fast path.
          const paths = which.map((n) => {
            const t = o.hub.tasks[n]!;
            return `agents/${t.agent}/inbox/${t.id}.md`;
          });
          const { ms, value } = await timed(() => syncChanged(mr, HOST, 'local', paths, link.endpoint));
          if (value.kind !== 'done' || value.pushed !== o.changed)
            warnings.push(`daemon fast path: ${JSON.stringify(value)}, expected ${o.changed} pushed`);
          samples.daemonFast.push(ms);
          continue; // rsync and unison run after the other two kinds, as before
        }
        if (kind === 'daemonPass') {
          const { ms, value } = await timed(daemonPass);
          if (value.pushed !== o.changed)
            warnings.push(`daemon pass pushed ${value.pushed}, expected ${o.changed}`);
          samples.daemonPass.push(ms);
          reads.incremental.push(value.reads);
        } else samples.oneShot.push(await oneShot(o.changed));
        await runOthers(samples);
      }
    });
    const incremental = samples;

    const pick = (s: Record<Kind, number[]>): ToolSamples => ({
      daemonPass: summarise(s.daemonPass),
      daemonFast: summarise(s.daemonFast),
      oneShot: summarise(s.oneShot),
      rsync: summarise(s.rsync),
      unison: o.unison ? summarise(s.unison) : undefined,
    });
    return {
      setup: { sshTrueMs: ssh.ms, connectMs: connect.ms, transport: link.transport, initialMs },
      incremental: pick(incremental),
      noop: pick(noop),
      reads: {
        incremental: {
          local: medianOf(reads.incremental.map((r) => r.local)),
          remote: medianOf(reads.incremental.map((r) => r.remote)),
        },
        noop: {
          local: medianOf(reads.noop.map((r) => r.local)),
          remote: medianOf(reads.noop.map((r) => r.remote)),
        },
      },
      sftpRequests: counts,
      oneShotPassMs: summarise(oneShotPass),
      warnings,
    };
  } finally {
    await link.close();
  }
}
