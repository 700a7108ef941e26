// Figures 3 and 5, with the real `mailroom daemon` running on the hub as a child process:
//   - propagation: a new task written on one side (temp file, rename: how every writer does it) until
//     the file exists on the other; both folders are on this machine, so they are polled directly.
//     Hub -> far is the daemon's push on a local change (debounce, then a pass); far -> hub is remote
//     streaming: the daemon follows `mailroom watch` on the far side over its SSH connection and pulls
//     soon after each change line (hosts.<h>.mailroom names the far command);
//   - footprint: the daemon left alone with the whole mailroom, CPU share from /proc/<pid>/stat
//     (utime + stime) over a window, and resident memory from /proc/<pid>/status; the far side's
//     `mailroom watch` process the same way (it runs on the far machine, here the same one).

import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isoSeconds } from '../src/task/id.js';
import { HOST, type Hub, writeNewTask } from './fixture.js';
import { CLI, nodeEnv } from './mailroom-cli.js';
import { pollUntil, runProcess, type Samples, sampleUnderBudget, summarise } from './measure.js';

export interface Footprint {
  windowMs: number;
  /** Sync passes with the host that ended in the window (the interval pass; it backs off). */
  syncPasses?: number;
  cpuPercent: number;
  rssMb: number;
  hwmMb: number;
  /** RSS sampled every RSS_SAMPLE_MS across the window: where a GC cycle stands moves rssMb. */
  rssSamples?: { medianMb: number; minMb: number; maxMb: number; n: number };
}

const RSS_SAMPLE_MS = 2_000;

export interface DaemonFigures {
  /** From spawn until its first sync pass with the host has finished. */
  readyMs: number;
  /** Hub -> far: push on a local change. */
  push: Samples;
  /** Far -> hub over remote streaming; undefined (with the reason) when the daemon could not stream. */
  streamed: Samples | undefined;
  streamProblem?: string;
  footprint: Footprint;
  /** The far side's `mailroom watch`, same window. */
  farWatcher?: Footprint;
}

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at ')'. utime, stime: fields 14, 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function spreadOf(values: number[]): NonNullable<Footprint['rssSamples']> {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    medianMb: sorted[sorted.length >> 1]!,
    minMb: sorted[0]!,
    maxMb: sorted[sorted.length - 1]!,
    n: sorted.length,
  };
}

async function memoryMb(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** The pid of a process whose command line holds every one of `parts` (the far `mailroom watch`). */
async function findPid(parts: readonly string[]): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    if (parts.every((p) => args.includes(p))) return Number(entry);
  }
  return undefined;
}

async function clockTicksPerSecond(): Promise<number> {
  const r = await runProcess('getconf', ['CLK_TCK']);
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
}

/** Waits until the process used less than 3% of a core for two half-second windows in a row. */
async function waitQuiet(pid: number, hz: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let calm = 0;
  while (calm < 2 && performance.now() < deadline) {
    const before = await cpuTicks(pid);
    await delay(500);
    calm = (await cpuTicks(pid)) - before <= 0.03 * 0.5 * hz ? calm + 1 : 0;
  }
}

const lastSyncAt = async (hub: Hub): Promise<number> => {
  try {
    const state = JSON.parse(await readFile(join(hub.root, '.mailroom/sync', `${HOST}.json`), 'utf8')) as {
      lastSyncAt?: string;
    };
    return state.lastSyncAt ? Date.parse(state.lastSyncAt) : 0;
  } catch {
    return 0;
  }
};

/** How many passes the daemon has finished (its status file); 0 before the first. */
const passes = async (hub: Hub): Promise<number> => {
  try {
    return (
      (JSON.parse(await readFile(join(hub.root, '.mailroom/daemon.json'), 'utf8')) as { passes?: number })
        .passes ?? 0
    );
  } catch {
    return 0;
  }
};

async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await gone;
  clearTimeout(timer);
}

export async function benchDaemon(
  hub: Hub,
  farRoot: string,
  opts: {
    reps: number;
    /** Time each direction's samples may take, asked when they start (the bench's time plan). */
    budget: { push: () => number; streamed: () => number };
    idleMs: number;
    say: (line: string) => void;
    /** Told the daemon's pid, so an interrupted bench can stop it (by that pid, nothing broader). */
    started?: (pid: number) => void;
  },
): Promise<DaemonFigures> {
  const hz = await clockTicksPerSecond();
  const spawnedAt = Date.now();
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'daemon', '--root', hub.root], {
    env: nodeEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const pid = child.pid!;
  opts.started?.(pid);
  try {
    const alive = () => {
      if (child.exitCode !== null) throw new Error(`the daemon exited: ${output.slice(-2000)}`);
    };
    await pollUntil(
      'the daemon to finish its first sync pass',
      async () => {
        alive();
        // lastSyncAt has whole-millisecond ISO time from the daemon's clock (this machine's).
        return (await lastSyncAt(hub)) >= spawnedAt - 1;
      },
      120_000,
      50,
    );
    const readyMs = performance.now() - t0;
    // Streaming starts with the first connection; its `ready` line is reported by the daemon.
    let streamProblem: string | undefined;
    await pollUntil(
      'the daemon to follow the far side (or say it cannot)',
      () => {
        alive();
        return /following |cannot stream/.test(output);
      },
      60_000,
      50,
    ).catch((err: unknown) => {
      streamProblem = err instanceof Error ? err.message : String(err);
    });
    const refusal = /cannot stream[^\n]*/.exec(output);
    if (refusal) streamProblem = refusal[0];
    await waitQuiet(pid, hz, 10_000);

    const created = isoSeconds(new Date());
    let serial = 0;
    /** Write a new task on one side, time until it exists on the other. */
    const propagate = async (from: string, to: string): Promise<number> => {
      const n = hub.tasks.length + 1000 + serial++;
      const t = performance.now();
      const task = await writeNewTask(hub, n, created, { root: from, far: from === farRoot });
      await pollUntil(
        `${task.id} on the other side`,
        () => {
          alive();
          return task.arrived(to);
        },
        90_000,
        2,
      );
      const ms = performance.now() - t;
      // Let the daemon finish the passes this write caused, then a random pause, so that samples
      // do not line up with its rescan timer.
      await waitQuiet(pid, hz, 12_000);
      await delay(Math.random() * 500);
      return ms;
    };

    opts.say('propagation hub -> far: a task written on the hub until it exists on the far side...');
    const push: number[] = [];
    await sampleUnderBudget(opts.reps, opts.budget.push(), async () => {
      push.push(await propagate(hub.root, farRoot));
    });
    const streamed: number[] = [];
    if (streamProblem === undefined) {
      opts.say(
        'propagation far -> hub (streaming): a task written on the far side until it exists on the hub...',
      );
      await sampleUnderBudget(opts.reps, opts.budget.streamed(), async () => {
        streamed.push(await propagate(farRoot, hub.root));
      });
    }

    // The window starts when a pass has just ended and lasts at least idleMs and until the next
    // pass has ended (the daemon counts passes in .mailroom/daemon.json): it always holds whole
    // rescan cycles (10 s plus the pass itself), never a fraction of one.
    opts.say(`footprint: the daemon idle for at least ${opts.idleMs / 1000} s and one whole rescan...`);
    await waitQuiet(pid, hz, 6_000);
    const watcherPid = await findPid(['watch', '--root', farRoot]);
    const p0 = await passes(hub);
    await pollUntil('a daemon pass to end', async () => (await passes(hub)) > p0, 30_000, 20).catch(() => {});
    const p1 = await passes(hub);
    const measure = async (p: number) => ({ pid: p, ticks: await cpuTicks(p) });
    const before = await Promise.all([measure(pid), ...(watcherPid ? [measure(watcherPid)] : [])]);
    const w0 = performance.now();
    // Sync passes in the window: each one saves the host's state with a new lastSyncAt.
    const seen = new Set<number>([await lastSyncAt(hub)]);
    const watchSync = setInterval(() => void lastSyncAt(hub).then((t) => seen.add(t)), 1000);
    const rss: number[] = [];
    const sampleRss = setInterval(
      () =>
        void memoryMb(pid).then(
          (m) => rss.push(m.rss),
          () => {},
        ),
      RSS_SAMPLE_MS,
    );
    await delay(opts.idleMs);
    await pollUntil('the next daemon pass to end', async () => (await passes(hub)) > p1, 30_000, 20).catch(
      () => {},
    );
    const windowMs = performance.now() - w0;
    clearInterval(watchSync);
    clearInterval(sampleRss);
    seen.add(await lastSyncAt(hub));
    const syncPasses = seen.size - 1;
    const footprints = await Promise.all(
      before.map(async (b): Promise<Footprint> => {
        const ticks = await cpuTicks(b.pid);
        const mem = await memoryMb(b.pid);
        return {
          windowMs,
          cpuPercent: ((ticks - b.ticks) / hz / (windowMs / 1000)) * 100,
          rssMb: mem.rss,
          hwmMb: mem.hwm,
        };
      }),
    );
    alive();
    return {
      readyMs,
      push: summarise(push),
      streamed: streamed.length > 0 ? summarise(streamed) : undefined,
      ...(streamProblem ? { streamProblem } : {}),
      footprint: { ...footprints[0]!, syncPasses, ...(rss.length > 0 ? { rssSamples: spreadOf(rss) } : {}) },
      ...(footprints[1] ? { farWatcher: footprints[1] } : {}),
    };
  } finally {
    await stopDaemon(child);
  }
}
