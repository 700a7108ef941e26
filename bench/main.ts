// `npm run bench`: the performance goals of issue 5, measured in one run as ratios against the tools a
// user would use instead (rsync, Unison) and against `node -e 0`, on this machine, over a private
// sshd on loopback. Timing goals live here, never as asserts in tests. Method and figures:
// docs/performance.md.
//
//   npm run bench [-- --tasks N] [--agents A] [--changed K] [--reps R] [--idle-seconds S] [--initial-push] [--json]
//   npm run bench -- --rtt MS[,MS...] [--tasks N] [--no-unison] [--no-sftp]: only the WAN comparison
//   (bench/wan.ts); mailroom over SFTP at 10,000 tasks takes many minutes, --no-sftp leaves it out
// The default run ends with the WAN comparison at loopback and 40 ms (--wan-tasks, default 2000).
//   npm run bench -- --only board     the board's figures alone (bench/board-figures.ts; no sshd needed)

import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { RACY_MS } from '../src/store/stamp.js';
import { startSshd } from '../test/support/sshd-core.js';
import { agentText, benchAgents } from './agent-figures.js';
import { benchBoard, boardText } from './board-figures.js';
import { benchCli, cliText } from './cli-latency.js';
import { benchDaemon } from './daemon-figures.js';
import { toolVersion, unisonRunner } from './far-tools.js';
import { buildHub } from './fixture.js';
import { CLI } from './mailroom-cli.js';
import { TimePlan, timed } from './measure.js';
import { type RunInfo, toJson, toText } from './report.js';
import { benchSync } from './sync-passes.js';
import { benchWan, type WanFigures, wanText } from './wan.js';

const USAGE =
  'usage: npm run bench -- [--tasks N] [--agents A] [--changed K] [--reps R] [--idle-seconds S] [--initial-push] [--json] [--only board|cli] [--rtt MS[,MS]] [--wan-tasks N] [--no-unison] [--no-sftp]';

/** Bad flags: said in one line with the usage, no stack. */
class UsageError extends Error {}

function parseFlags() {
  try {
    return parseFlagsOrThrow();
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  }
}

function parseFlagsOrThrow() {
  return parseArgs({
    options: {
      tasks: { type: 'string', default: '10000' },
      agents: { type: 'string', default: '20' },
      changed: { type: 'string', default: '10' },
      reps: { type: 'string', default: '5' },
      'idle-seconds': { type: 'string', default: '300' },
      json: { type: 'boolean', default: false },
      'initial-push': { type: 'boolean', default: false },
      rtt: { type: 'string' },
      'wan-tasks': { type: 'string', default: '2000' },
      'no-unison': { type: 'boolean', default: false },
      'no-sftp': { type: 'boolean', default: false },
      only: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
}

function options() {
  const { values } = parseFlags();
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, raw: string, min: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min)
      throw new UsageError(`--${name} must be a whole number >= ${min}, got ${raw}\n${USAGE}`);
    return n;
  };
  const o = {
    tasks: int('tasks', values.tasks, 20),
    agents: int('agents', values.agents, 1),
    changed: int('changed', values.changed, 1),
    reps: int('reps', values.reps, 3),
    idleMs: int('idle-seconds', values['idle-seconds'], 1) * 1000,
    json: values.json,
    initialPush: values['initial-push'],
    rtts: values.rtt?.split(',').map((x) => int('rtt', x, 0)),
    wanTasks: int('wan-tasks', values['wan-tasks'], 20),
    unison: !values['no-unison'],
    sftp: !values['no-sftp'],
    only: values.only,
  };
  if (o.only !== undefined && o.only !== 'board' && o.only !== 'cli')
    throw new UsageError(`--only takes board or cli\n${USAGE}`);
  if (o.changed * 2 + o.reps > o.tasks)
    throw new UsageError(`--tasks ${o.tasks} is too few for --changed ${o.changed}`);
  if (o.agents > 99) throw new UsageError('--agents must be at most 99');
  return o;
}

/**
 * Deleting the run's ~40,000 files takes 5-10 s on this disk and is no part of any figure: a detached
 * `rm -rf` of the run's own temp folder does it while the bench exits.
 */
function removeInBackground(dir: string): void {
  spawn('rm', ['-rf', dir], { detached: true, stdio: 'ignore' }).unref();
}

/** Progress lines on stderr, each with the seconds since `started` (performance.now()). */
const progress = (started: number) => (line: string) =>
  process.stderr.write(`bench [${((performance.now() - started) / 1000).toFixed(0)} s]: ${line}\n`);

/** The tasks `mailroom ack` takes one per run (the last ones, which the sync rounds leave untouched). */
const ackTaskNumbers = (o: { reps: number; tasks: number }) =>
  Array.from({ length: o.reps * 2 }, (_, i) => o.tasks - 1 - i);

/** A `--only` run: its own temp folder, removed after, and its progress lines. */
async function inRunFolder(run: (dir: string, say: (line: string) => void) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-bench-'));
  try {
    await run(dir, progress(performance.now()));
  } finally {
    removeInBackground(dir);
  }
}

/** The WAN comparison only (`--rtt`): its own sshd and folder, one table per round-trip time. */
async function mainWan(o: ReturnType<typeof options>, rtts: number[], tasks: number): Promise<string> {
  const started = performance.now();
  const say = progress(started);
  delete process.env.SSH_AUTH_SOCK;
  const unison = o.unison && (await toolVersion('unison', ['-version'])) !== undefined;
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-bench-wan-'));
  const sshd = await startSshd();
  // Interrupted: stop the sshd this run started (by pid) and remove its folder.
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      void sshd.stop().finally(() => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(130);
      });
    });
  try {
    const figs: WanFigures[] = [];
    for (const rttMs of rtts)
      figs.push(
        await benchWan({
          dir,
          sshd,
          rttMs,
          tasks,
          agents: o.agents,
          changed: o.changed,
          reps: o.reps,
          unison,
          sftp: o.sftp,
          say,
        }),
      );
    return wanText(figs);
  } finally {
    await sshd.stop();
    removeInBackground(dir);
  }
}

/** `--only board`: the board's figures alone, on a local mailroom. */
async function mainBoard(o: ReturnType<typeof options>): Promise<void> {
  await inRunFolder(async (dir, say) => {
    const board = await benchBoard(dir, { tasks: o.tasks, reps: o.reps, budgetMs: 120_000, say });
    console.log(o.json ? JSON.stringify({ board }, null, 2) : boardText(board));
  });
}

/** The CLI latency figures only (`--only cli`): the same mailroom and runs as the full bench's section 4. */
async function mainCli(o: ReturnType<typeof options>): Promise<void> {
  await inRunFolder(async (dir, say) => {
    say(`generating ${o.tasks} tasks across ${o.agents} agents...`);
    // A host in the configuration as in the full run; nothing here connects to it.
    const nowhere = join(dir, 'nowhere');
    const far = {
      user: 'nobody',
      port: 1,
      root: nowhere,
      identity: nowhere,
      knownHosts: nowhere,
      mailroom: 'mailroom',
    };
    const hub = await buildHub(join(dir, 'hub'), { tasks: o.tasks, agents: o.agents, far });
    // As in the full run, where the sync rounds come first: files written less than the racy window
    // ago are read again by every `ls` (src/store/stamp.ts), which is not the steady state measured.
    await delay(RACY_MS + 500);
    say('CLI latency...');
    const cli = await benchCli(hub, { reps: o.reps * 2, budgetMs: 120_000, ackTasks: ackTaskNumbers(o) });
    console.log(o.json ? JSON.stringify({ cli }, null, 2) : cliText(cli, o.tasks));
  });
}

async function main(): Promise<void> {
  const o = options();
  if (o.rtts) {
    console.log(await mainWan(o, o.rtts, o.tasks));
    return;
  }
  if (o.only === 'board') return mainBoard(o);
  if (o.only === 'cli') return mainCli(o);
  const started = performance.now();
  const loadAtStart = loadavg()[0]!;
  // The whole run, build included, must end within 10 minutes (5 of them the idle daemon's window) on this 2-core machine even when it is
  // busy: sampled sections share what is left (at least one sample each), fixed ones are reserved.
  const plan = new TimePlan(started + 555_000, [
    { name: 'sync-noop', ms: 25_000 },
    { name: 'sync-incremental', ms: 45_000 },
    { name: 'cli', ms: 25_000 },
    { name: 'daemon-start', ms: 28_000, fixed: true },
    { name: 'push', ms: 50_000 },
    { name: 'streamed', ms: 50_000 },
    { name: 'idle', ms: o.idleMs + 12_000, fixed: true },
    { name: 'agents', ms: 30_000 },
    { name: 'board', ms: 60_000, fixed: true },
    { name: 'cleanup', ms: 2_000, fixed: true },
  ] as const);
  const say = progress(started);
  // The persistent connection opened in this process authenticates with the host's key file only.
  delete process.env.SSH_AUTH_SOCK;

  const rsync = await toolVersion('rsync', ['--version']);
  if (!rsync) throw new Error('rsync is not installed: apt-get install -y rsync openssh-server');
  const unison = await toolVersion('unison', ['-version']);

  const dir = await mkdtemp(join(tmpdir(), 'mailroom-bench-'));
  say(`working in ${dir}; starting a private sshd...`);
  const sshd = await startSshd();
  // Interrupted (Ctrl-C, a CI timeout): stop what this run started, by pid, and remove its folder.
  let daemonPid: number | undefined;
  const interrupted = (signal: NodeJS.Signals) => {
    say(`${signal}: stopping the daemon and sshd this run started`);
    for (const pid of [daemonPid, sshd.pid]) {
      try {
        if (pid !== undefined) process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(sshd.dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let cleaned = false;
  try {
    const ssh = {
      user: sshd.user,
      port: sshd.port,
      identity: sshd.clientKeyPath,
      knownHosts: sshd.knownHostsPath,
    };
    const far = {
      mailroom: join(dir, 'far-mailroom'),
      rsync: join(dir, 'far-rsync'),
      unison: join(dir, 'far-unison'),
    };
    // The far host needs only sshd and the folder (as a user would `mkdir -p` it there).
    await mkdir(far.mailroom);
    say(`generating ${o.tasks} tasks across ${o.agents} agents...`);
    const gen = await timed(() =>
      buildHub(join(dir, 'hub'), {
        tasks: o.tasks,
        agents: o.agents,
        // The far side is this machine: its mailroom is this build, for `mailroom watch` (streaming).
        far: { ...ssh, root: far.mailroom, mailroom: `${process.execPath} ${CLI}` },
        seed: o.initialPush ? undefined : far.mailroom,
      }),
    );
    const hub = gen.value;
    // The last tasks stay untouched by the sync rounds: `mailroom ack` takes them one per run.
    const ackTasks = ackTaskNumbers(o);

    const sync = await benchSync({
      hub,
      ssh,
      far,
      unison: unison ? await unisonRunner(ssh, dir) : undefined,
      changed: o.changed,
      reps: o.reps,
      seeded: !o.initialPush,
      budget: { incremental: () => plan.budget('sync-incremental'), noop: () => plan.budget('sync-noop') },
      say,
      reserved: new Set(ackTasks),
    });
    say('CLI latency...');
    const cli = await benchCli(hub, { reps: o.reps * 2, budgetMs: plan.budget('cli'), ackTasks });
    say('starting the daemon...');
    const daemon = await benchDaemon(hub, far.mailroom, {
      reps: o.reps,
      budget: { push: () => plan.budget('push'), streamed: () => plan.budget('streamed') },
      idleMs: o.idleMs,
      say,
      started: (pid) => {
        daemonPid = pid;
      },
    });
    daemonPid = undefined;
    const agentFigures = await benchAgents(hub.root, {
      tasks: o.tasks,
      mcpAgent: hub.agents[0]!,
      reps: o.reps * 4,
      budgetMs: plan.budget('agents'),
      say,
    });
    const board = await benchBoard(join(dir, 'board'), {
      tasks: o.tasks,
      reps: o.reps,
      budgetMs: plan.budget('board'),
      say,
    });

    const adaptive: string[] = [];
    const counted = (what: string, n: number, wanted: number) => {
      if (n < wanted) adaptive.push(`${what}: ${n} of ${wanted} repetitions (the time plan's share ran out)`);
    };
    counted('sync rounds', sync.incremental.daemonPass.samplesMs.length, o.reps);
    counted('no-op rounds', sync.noop.daemonPass.samplesMs.length, o.reps);
    counted('CLI runs', cli.ack.samplesMs.length, o.reps * 2);
    counted('propagation samples (push)', daemon.push.samplesMs.length, o.reps);
    if (daemon.streamed) counted('propagation samples (streamed)', daemon.streamed.samplesMs.length, o.reps);

    say('cleaning up...');
    await sshd.stop();
    removeInBackground(dir);
    cleaned = true;
    const info: RunInfo = {
      tasks: o.tasks,
      agents: o.agents,
      changed: o.changed,
      taskBytes: hub.taskBytes,
      reps: o.reps,
      cores: cpus().length,
      load: [loadAtStart, loadavg()[0]!],
      node: process.versions.node,
      sshd: `private OpenSSH on 127.0.0.1:${sshd.port} (internal-sftp, SetEnv SHLVL=1, throw-away keys)`,
      rsync,
      unison,
      generateMs: gen.ms,
      seeded: !o.initialPush,
      elapsedMs: performance.now() - started,
      adaptive,
    };
    const figures = { sync, cli, daemon };
    console.log(
      o.json
        ? JSON.stringify({ ...(toJson(info, figures) as object), agents: agentFigures, board }, null, 2)
        : `${toText(info, figures)}\n\n${agentText(agentFigures)}\n\n${boardText(board)}`,
    );
    if (!o.json) console.log(await mainWan(o, [0, 40], Math.min(o.wanTasks, o.tasks)));
  } finally {
    if (!cleaned) {
      await sshd.stop();
      removeInBackground(dir);
    }
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) console.error(`bench: ${err.message}`);
  else console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
