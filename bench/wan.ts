// `npm run bench -- --rtt MS`: mailroom with its far agent, mailroom over SFTP, rsync and Unison,
// each through a delay proxy (bench/delay-proxy.ts) that gives every connection MS of round-trip
// time, in one run: the first copy of a hub's tasks to an empty far folder, the pass right after it,
// K changed tasks, a no-op, the daemon's pass on a kept connection, and propagation (a new task on
// either side until it exists on the other, with a daemon running). Each tool has its own far folder
// (and mailroom over SFTP its own hub), so no tool's work helps another's. Method: docs/performance.md.

import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type Watcher, watchPaths } from '../daemon/watch.js';
import { openMailroom } from '../src/mailroom.js';
import { syncChanged } from '../src/sync/changed.js';
import { openHost } from '../src/sync/connect-host.js';
import { hostAgents, syncHost } from '../src/sync/pass.js';
import { manifestCopyPath } from '../src/sync/state.js';
import { WatchedListings } from '../src/sync/watched-listings.js';
import { isoSeconds } from '../src/task/id.js';
import type { Sshd } from '../test/support/sshd-core.js';
import { startDelayProxy } from './delay-proxy.js';
import { rsyncTree, type SshTarget, unisonRunner } from './far-tools.js';
import { buildHub, changeTasks, HOST, type Hub, spread, taskText, writeNewTask } from './fixture.js';
import { type MachineCpu, machineCpuAround } from './machine-cpu.js';
import { CLI, nodeEnv } from './mailroom-cli.js';
import { median, mustRun, pollUntil, timed } from './measure.js';
import { type WriteFloor, writeFloor } from './write-floor.js';

export type Tool = 'agent' | 'sftp' | 'rsync' | 'unison';

/** How long the bench leaves between two daemon full passes (a daemon's are `sync.interval` apart). */
const DAEMON_PASS_GAP_MS = 500;
type Row = Partial<Record<Tool, number>>;

export interface WanFigures {
  rttMs: number;
  tasks: number;
  load: [number, number];
  firstCopy: Row;
  afterFirst: Row;
  /** Files the hub read on each side in the pass right after the first copy (the CLI's --json). */
  afterFirstReads: Partial<Record<'agent' | 'sftp', { local: number; remote: number }>>;
  changed: Row;
  noop: Row;
  /** The agent's one-shots with a new far agent each pass (keep_agent: 0s), not one that stayed. */
  changedFresh: Row;
  noopFresh: Row;
  /** Of the agent's one-shots above (changed and no-op), how many reached a far agent that stayed. */
  stayed: { of: number; reached: number };
  /** The daemon's full pass with its watchers on (the daemon's and the far agent's), as it runs. */
  daemonPass: Row;
  /** The same, passes back to back (each right after the last one's writes; a daemon's never are). */
  daemonPassTight: Row;
  /** A full pass that lists every file on both sides (no watcher: every FULL_LOOK_MS, or SFTP). */
  daemonFullLook: Row;
  daemonFast: Row;
  propagationToFar: Row;
  propagationToHub: Row;
  /** The disk's own floor for writing that many files (bench/write-floor.ts). */
  floor?: WriteFloor;
  /** The whole machine while the far agent's first copy ran (Linux only). */
  firstCopyCpu?: MachineCpu;
}

export interface WanOptions {
  dir: string;
  sshd: Sshd;
  rttMs: number;
  tasks: number;
  agents: number;
  changed: number;
  reps: number;
  unison: boolean;
  /** Mailroom over SFTP too (slow at 10,000 tasks: --no-sftp leaves it out). */
  sftp: boolean;
  say: (line: string) => void;
}

/** One `mailroom sync`; `fresh`: a new far agent for this pass, none left to stay (keep_agent: 0s). */
const oneShot = async (hub: string, transport: 'agent' | 'sftp', fresh = false) => {
  const env = {
    ...nodeEnv(),
    MAILROOM_SYNC_TRANSPORT: transport,
    ...(fresh ? { MAILROOM_KEEP_AGENT: '0s' } : {}),
  };
  const r = await mustRun(process.execPath, [CLI, 'sync', HOST, '--json', '--root', hub], { env });
  const host = JSON.parse(r.stdout).hosts[0] as {
    transport?: { kind: string; stayed?: boolean };
    reads: { local: number; remote: number };
  };
  if (host.transport?.kind !== transport)
    throw new Error(`mailroom sync used ${host.transport?.kind}, not ${transport}: ${r.stderr}`);
  return { ms: r.ms, reads: host.reads, stayed: host.transport.stayed === true };
};

export async function benchWan(o: WanOptions): Promise<WanFigures> {
  const load0 = loadavg()[0]!;
  const proxy = await startDelayProxy(o.sshd.port, o.rttMs);
  // Closed on failure too: a proxy left listening keeps the bench from exiting.
  try {
    return await benchThrough(o, proxy.port, load0);
  } finally {
    await proxy.close();
  }
}

async function benchThrough(o: WanOptions, proxyPort: number, load0: number): Promise<WanFigures> {
  const base = join(o.dir, `rtt-${o.rttMs}`);
  await mkdir(base, { recursive: true });
  const knownHosts = join(base, 'known_hosts');
  await writeFile(knownHosts, `[127.0.0.1]:${proxyPort} ${o.sshd.hostPublicKey}\n`);
  const ssh: SshTarget = { user: o.sshd.user, port: proxyPort, identity: o.sshd.clientKeyPath, knownHosts };
  const far = {
    agent: join(base, 'far-agent'),
    sftp: join(base, 'far-sftp'),
    rsync: join(base, 'far-rsync'),
  };
  const farUnison = join(base, 'far-unison');
  for (const d of [...Object.values(far), farUnison]) await mkdir(d);
  o.say(`rtt ${o.rttMs} ms: generating ${o.tasks} tasks...`);
  const farHost = (root: string) => ({ ...ssh, root, mailroom: `${process.execPath} ${CLI}` });
  const hubA = await buildHub(join(base, 'hub-agent'), {
    tasks: o.tasks,
    agents: o.agents,
    far: farHost(far.agent),
  });
  const hubB = await buildHub(join(base, 'hub-sftp'), {
    tasks: o.tasks,
    agents: o.agents,
    far: farHost(far.sftp),
  });
  const hubU: Hub = { ...hubA, root: join(base, 'hub-unison') };
  await cp(hubA.root, hubU.root, { recursive: true, preserveTimestamps: true });
  const unison = o.unison ? await unisonRunner(ssh, base) : undefined;
  const tools = async (row: Row, f: Partial<Record<Tool, () => Promise<number>>>) => {
    for (const [tool, run] of Object.entries(f) as [Tool, () => Promise<number>][]) row[tool] = await run();
  };
  const fig: WanFigures = {
    rttMs: o.rttMs,
    tasks: o.tasks,
    load: [load0, 0],
    firstCopy: {},
    afterFirst: {},
    afterFirstReads: {},
    changed: {},
    noop: {},
    changedFresh: {},
    noopFresh: {},
    stayed: { of: 0, reached: 0 },
    daemonPass: {},
    daemonPassTight: {},
    daemonFullLook: {},
    daemonFast: {},
    propagationToFar: {},
    propagationToHub: {},
  };
  const runRsync = async () => (await rsyncTree(ssh, join(hubA.root, 'agents'), far.rsync)).ms;
  const runUnison = unison ? async () => (await unison(join(hubU.root, 'agents'), farUnison)).ms : undefined;
  const all = (): Partial<Record<Tool, () => Promise<number>>> => ({
    agent: async () => {
      const r = await oneShot(hubA.root, 'agent');
      fig.stayed.of++;
      if (r.stayed) fig.stayed.reached++;
      return r.ms;
    },
    ...(o.sftp ? { sftp: async () => (await oneShot(hubB.root, 'sftp')).ms } : {}),
    rsync: runRsync,
    ...(runUnison ? { unison: runUnison } : {}),
  });

  o.say(`rtt ${o.rttMs} ms: first copy...`);
  const copies = all();
  const agentCopy = copies.agent!;
  await tools(fig.firstCopy, {
    ...copies,
    agent: async () => {
      const { value, cpu } = await machineCpuAround(agentCopy);
      if (cpu) fig.firstCopyCpu = cpu;
      return value;
    },
  });
  o.say(`rtt ${o.rttMs} ms: the disk's floor for ${o.tasks} files...`);
  fig.floor = await writeFloor(
    base,
    o.tasks,
    Buffer.byteLength(taskText(0, 'a00', 0, isoSeconds(new Date()))),
  );
  o.say(`rtt ${o.rttMs} ms: the pass after it...`);
  const transports = o.sftp ? (['agent', 'sftp'] as const) : (['agent'] as const);
  for (const t of transports) {
    const r = await oneShot(t === 'agent' ? hubA.root : hubB.root, t);
    fig.afterFirst[t] = r.ms;
    fig.afterFirstReads[t] = r.reads;
  }
  const samples: Record<string, number[]> = {};
  const add = (key: string, ms: number) => {
    samples[key] ??= [];
    samples[key].push(ms);
  };
  const reserved = new Set<number>();
  fig.stayed = { of: 0, reached: 0 }; // the rounds' one-shots only (the first copy starts the agent)
  for (let round = 0; round < o.reps; round++) {
    o.say(`rtt ${o.rttMs} ms: ${o.changed} changed, round ${round + 1} of ${o.reps}...`);
    const which = spread(hubA, o.changed, round, reserved);
    for (const hub of o.sftp ? [hubA, hubB, hubU] : [hubA, hubU]) await changeTasks(hub, which, round + 1);
    for (const [tool, run] of Object.entries(all())) add(`changed.${tool}`, await run());
    for (const [tool, run] of Object.entries(all())) add(`noop.${tool}`, await run());
  }
  for (const key of Object.keys(samples)) {
    const [row, tool] = key.split('.') as ['changed' | 'noop', Tool];
    fig[row][tool] = median(samples[key]!);
  }
  // The same one-shots with a new far agent each pass (keep_agent: 0s): what starting one costs. Run
  // after the others, so the agent that stays saw every pass of theirs (a pass it did not see makes
  // its next reply a whole manifest: docs/sync.md, "A far agent that stays").
  const fresh = { changed: [] as number[], noop: [] as number[] };
  for (let round = 0; round < o.reps; round++) {
    o.say(
      `rtt ${o.rttMs} ms: ${o.changed} changed, a new far agent each pass, round ${round + 1} of ${o.reps}...`,
    );
    await changeTasks(hubA, spread(hubA, o.changed, round + 250, reserved), round + 90);
    fresh.changed.push((await oneShot(hubA.root, 'agent', true)).ms);
    fresh.noop.push((await oneShot(hubA.root, 'agent', true)).ms);
  }
  fig.changedFresh.agent = median(fresh.changed);
  fig.noopFresh.agent = median(fresh.noop);

  for (const t of transports) {
    o.say(`rtt ${o.rttMs} ms: daemon passes on a kept connection (${t})...`);
    const hub = t === 'agent' ? hubA : hubB;
    const mr = await openMailroom(hub.root);
    // As the daemon opens it (daemon/sync-loop.ts): with the hub's copy of the far manifest, so a
    // pass is answered with what changed since.
    const link = await openHost(HOST, mr.config.hosts[HOST]!, {
      agents: hostAgents(mr, HOST),
      transport: t,
      manifestCopy: manifestCopyPath(mr, HOST),
      kept: true,
    });
    let watcher: Watcher | undefined;
    try {
      await syncHost(mr, HOST, { remote: link.endpoint });
      const full: number[] = [];
      const pass: number[] = [];
      const fast: number[] = [];
      for (let round = 0; round < o.reps; round++) {
        await changeTasks(hub, spread(hub, o.changed, round + 100, reserved), round + 50);
        full.push((await timed(() => syncHost(mr, HOST, { remote: link.endpoint }))).ms);
      }
      // Then with the watchers a daemon runs: its own (daemon/run.ts) and the far agent's, which it
      // starts to follow the host (daemon/sync-loop.ts). The first pass after they start lists all.
      const listings = new WatchedListings();
      const agentsDir = join(hub.root, 'agents');
      watcher = await watchPaths([agentsDir], (p) =>
        listings.hint(`agents/${p.slice(agentsDir.length + 1)}`),
      );
      listings.start();
      if (link.agent) await link.agent.onChanges(hostAgents(mr, HOST), () => {}, { ahead: true });
      const opts = { remote: link.endpoint, localListings: listings };
      await syncHost(mr, HOST, opts);
      for (let round = 0; round < o.reps; round++) {
        // Passes as far apart as a daemon's could ever be (its interval is a minute): the far agent
        // has done what it does between passes (its scan ahead: docs/sync.md).
        await delay(DAEMON_PASS_GAP_MS);
        await changeTasks(hub, spread(hub, o.changed, round + 150, reserved), round + 70);
        pass.push((await timed(() => syncHost(mr, HOST, opts))).ms);
        const b = spread(hub, o.changed, round + 200, reserved);
        await changeTasks(hub, b, round + 80);
        const paths = b.map((n) => `agents/${hub.tasks[n]!.agent}/inbox/${hub.tasks[n]!.id}.md`);
        fast.push((await timed(() => syncChanged(mr, HOST, 'local', paths, link.endpoint))).ms);
      }
      // And back to back, each right after the last one's writes: the far agent's scan ahead is
      // then still running when the next pass asks.
      const tight: number[] = [];
      for (let round = 0; round < o.reps; round++) {
        await changeTasks(hub, spread(hub, o.changed, round + 230, reserved), round + 85);
        tight.push((await timed(() => syncHost(mr, HOST, opts))).ms);
      }
      fig.daemonFullLook[t] = median(full);
      fig.daemonPass[t] = median(pass);
      fig.daemonPassTight[t] = median(tight);
      fig.daemonFast[t] = median(fast);
    } finally {
      await watcher?.close();
      await link.close();
    }
    o.say(`rtt ${o.rttMs} ms: propagation with a daemon (${t})...`);
    const p = await propagation(hub, t === 'agent' ? far.agent : far.sftp, t, o.reps);
    fig.propagationToFar[t] = p.toFar;
    fig.propagationToHub[t] = p.toHub;
  }
  fig.load[1] = loadavg()[0]!;
  return fig;
}

/** A daemon on `hub`; a new task written on one side, timed until it exists on the other. */
async function propagation(hub: Hub, far: string, transport: 'agent' | 'sftp', reps: number) {
  const child: ChildProcess = spawn(process.execPath, [CLI, 'daemon', '--root', hub.root], {
    env: { ...nodeEnv(), MAILROOM_SYNC_TRANSPORT: transport },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await pollUntil(`the daemon following ${HOST}`, () => out.includes(`following ${HOST}`), 120_000, 20);
    await delay(1000);
    const created = isoSeconds(new Date());
    let serial = 0;
    const one = async (from: string, to: string) => {
      const n = hub.tasks.length + 1000 + serial++;
      const started = performance.now();
      const t = await writeNewTask(hub, n, created, { root: from, far: from === far });
      await pollUntil(`${t.id} on the other side`, () => t.arrived(to), 60_000, 2);
      const ms = performance.now() - started;
      await delay(300 + Math.random() * 300);
      return ms;
    };
    const toFar: number[] = [];
    const toHub: number[] = [];
    for (let i = 0; i < reps; i++) {
      toFar.push(await one(hub.root, far));
      toHub.push(await one(far, hub.root));
    }
    return { toFar: median(toFar), toHub: median(toHub) };
  } catch (err) {
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}\ndaemon output:\n${out.slice(-2000)}`,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const fmt = (ms: number | undefined) =>
  ms === undefined ? '-' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;

/** One table per RTT: each figure, and each tool's ratio to rsync's where rsync has one. */
export function wanText(figs: readonly WanFigures[]): string {
  const lines: string[] = [];
  for (const f of figs) {
    lines.push(
      '',
      `== ${f.rttMs} ms round trip (delay proxy), ${f.tasks} tasks; load average ${f.load[0].toFixed(1)} -> ${f.load[1].toFixed(1)} ==`,
      `${'figure'.padEnd(38)}${'agent'.padStart(16)}${'sftp'.padStart(16)}${'rsync'.padStart(10)}${'unison'.padStart(16)}`,
    );
    const row = (name: string, r: Row, ref?: number) => {
      const cell = (t: Tool) => {
        const v = r[t];
        if (v === undefined) return '-';
        const ratio = ref !== undefined && t !== 'rsync' ? ` ${(v / ref).toFixed(2)}x` : '';
        return `${fmt(v)}${ratio}`;
      };
      lines.push(
        `${name.padEnd(38)}${cell('agent').padStart(16)}${cell('sftp').padStart(16)}${cell('rsync').padStart(10)}${cell('unison').padStart(16)}`,
      );
    };
    row('first copy', f.firstCopy, f.firstCopy.rsync);
    row('pass right after the first copy', f.afterFirst, f.noop.rsync);
    row(`one-shot, changed tasks`, f.changed, f.changed.rsync);
    row('one-shot, no-op', f.noop, f.noop.rsync);
    row('  changed, new far agent (keep 0s)', f.changedFresh, f.changed.rsync);
    row('  no-op, new far agent (keep 0s)', f.noopFresh, f.noop.rsync);
    row('daemon full pass, kept connection', f.daemonPass, f.changed.rsync);
    row('  passes back to back', f.daemonPassTight, f.changed.rsync);
    row('  every file looked at (no watcher)', f.daemonFullLook, f.changed.rsync);
    row('daemon fast path, kept connection', f.daemonFast, f.changed.rsync);
    row('propagation hub -> far (median)', f.propagationToFar);
    row('propagation far -> hub (median)', f.propagationToHub);
    const reads = (t: 'agent' | 'sftp') => {
      const r = f.afterFirstReads[t];
      return r
        ? `${t}: hub read ${r.local} local, ${t === 'agent' ? 'far agent hashed' : 'read over SFTP'} ${r.remote} far`
        : '';
    };
    lines.push(`files read in the pass after the first copy: ${reads('agent')}; ${reads('sftp')}`);
    lines.push(
      `agent one-shots (changed, no-op) that reached a far agent that stayed: ${f.stayed.reached} of ${f.stayed.of}`,
    );
    if (f.floor) {
      const x = (ms: number) =>
        f.firstCopy.rsync ? ` (${(ms / f.firstCopy.rsync).toFixed(2)}x rsync's first copy)` : '';
      lines.push(
        `this disk's floor for ${f.floor.files} files, no network: temp + rename ${fmt(f.floor.renameMs)}${x(f.floor.renameMs)}; ` +
          `temp + fsync + link + folder fsync ${fmt(f.floor.durableMs)}${x(f.floor.durableMs)}; ` +
          `the far agent's create (its folder fsynced before it counts) ${fmt(f.floor.createMs)}${x(f.floor.createMs)}`,
      );
    }
    if (f.firstCopyCpu) {
      const pct = (x: number) => `${Math.round(x * 100)}%`;
      lines.push(
        `the machine during the far agent's first copy: ${pct(f.firstCopyCpu.busy)} busy, ` +
          `${pct(f.firstCopyCpu.iowait)} waiting on the disk (of ${f.firstCopyCpu.cores} cores' time, every process)`,
      );
    }
    lines.push(
      `ratios: against rsync's figure in the same row (daemon rows: against rsync's changed-tasks run)`,
    );
  }
  return lines.join('\n');
}
