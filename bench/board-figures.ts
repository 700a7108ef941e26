// The board's figures (issue 13), on a local mailroom of N tasks (default 10,000) over 5 agents:
//   - first page: a freshly started `mailroom board` process, from the first request to the last byte
//     of what the page needs to draw (the HTML, /api/board and /api/tasks), with the ls cache cold
//     (deleted) and warm (left by an earlier run);
//   - routing with and without the board: a finished task renamed into a worker's outbox until the
//     real daemon has routed it into its sender's inbox, in pairs: once with the board process stopped
//     (SIGSTOP), once with it running and a page-like client attached (it refetches the snapshot and
//     the task columns on every `change` event), so the board does all it does for a person watching.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { mapLimit } from '../src/map-limit.js';
import { isoSeconds } from '../src/task/id.js';
import { taskText } from './fixture.js';
import { CLI, nodeEnv } from './mailroom-cli.js';
import { mustRun, pollUntil, type Samples, sampleUnderBudget, summarise } from './measure.js';

export interface BoardFigures {
  tasks: number;
  firstPageCold: Samples;
  firstPageWarm: Samples;
  routingWithout: Samples;
  routingWith: Samples;
}

const AGENTS = ['a00', 'a01', 'a02', 'a03', 'a04'];
const taskId = (n: number) => `20260101-000000-${n.toString(36).padStart(4, '0')}`;

async function buildLocal(root: string, tasks: number): Promise<void> {
  await mustRun(process.execPath, [CLI, 'init', root], { env: nodeEnv() });
  for (const a of AGENTS)
    await mustRun(process.execPath, [CLI, 'agent', 'add', a, '--root', root], { env: nodeEnv() });
  const created = isoSeconds(new Date(Date.now() - 3_600_000));
  await mapLimit(
    Array.from({ length: tasks }, (_, n) => n),
    32,
    async (n) => {
      const agent = AGENTS[n % AGENTS.length]!;
      await writeFile(
        join(root, 'agents', agent, 'inbox', `${taskId(n)}.md`),
        taskText(n, agent, 0, created),
      );
    },
  );
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}` } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`${path}: ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

interface BoardProcess {
  child: ChildProcess;
  port: number;
  token: string;
  stop: () => Promise<void>;
}

async function startBoard(root: string): Promise<BoardProcess> {
  const child = spawn(process.execPath, [CLI, 'board', '--root', root], {
    env: nodeEnv(),
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await pollUntil('the board URL', () => /mailroom board: http/.test(out), 15_000);
  const url = new URL(/mailroom board: (\S+)/.exec(out)![1]!);
  return {
    child,
    port: Number(url.port),
    token: url.pathname.split('/')[1]!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** What the page fetches to draw itself the first time. */
async function firstPage(b: BoardProcess): Promise<void> {
  await get(b.port, `/${b.token}/`);
  await Promise.all([get(b.port, `/${b.token}/api/board`), get(b.port, `/${b.token}/api/tasks?limit=50`)]);
}

async function firstPageSample(root: string, cold: boolean): Promise<number> {
  if (cold) await rm(join(root, '.mailroom', 'cache'), { recursive: true, force: true });
  const b = await startBoard(root);
  try {
    const t = performance.now();
    await firstPage(b);
    return performance.now() - t;
  } finally {
    await b.stop();
  }
}

/** A page-like client: on every `change` event it fetches what the page would. Returns a closer. */
function watchLikeAPage(b: BoardProcess): () => void {
  const req = request({
    host: '127.0.0.1',
    port: b.port,
    path: `/${b.token}/api/live`,
    headers: { host: `127.0.0.1:${b.port}` },
  });
  req.on('response', (res) => {
    res.on('data', (d: Buffer) => {
      if (d.toString().includes('event: change')) void firstPage(b).catch(() => {});
    });
  });
  req.on('error', () => {});
  req.end();
  return () => req.destroy();
}

async function routeOnce(root: string, n: number): Promise<number> {
  const agent = AGENTS[n % AGENTS.length]!;
  const id = `20260102-000000-${n.toString(36).padStart(4, '0')}`;
  const text = taskText(n, agent, 0, isoSeconds(new Date()))
    .replace(/^id: .*$/m, `id: ${id}`)
    .replace('state: queued', 'state: done');
  const outbox = join(root, 'agents', agent, 'outbox');
  const tmp = join(outbox, `.${id}.md.tmp-bench`);
  await writeFile(tmp, text);
  const t = performance.now();
  await rename(tmp, join(outbox, `${id}.md`));
  await pollUntil(
    'routing',
    () => existsSync(join(root, 'agents', 'dispatch', 'inbox', `${id}.md`)),
    20_000,
    2,
  );
  return performance.now() - t;
}

async function startDaemon(root: string): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, [CLI, 'daemon', '--root', root], { env: nodeEnv(), stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await pollUntil(
    'the daemon to finish its first pass',
    async () => {
      const text = await readFile(join(root, '.mailroom', 'daemon.json'), 'utf8').catch(() => '{}');
      const s = JSON.parse(text) as { pid?: number; passes?: number };
      return s.pid === child.pid && (s.passes ?? 0) > 0;
    },
    60_000,
    50,
  );
  return async () => {
    child.kill('SIGTERM');
    await exited;
  };
}

export async function benchBoard(
  dir: string,
  o: { tasks: number; reps: number; budgetMs: number; say: (line: string) => void },
): Promise<BoardFigures> {
  const root = join(dir, 'board-mailroom');
  await mkdir(dir, { recursive: true });
  o.say(`board: ${o.tasks} tasks over ${AGENTS.length} local agents...`);
  await buildLocal(root, o.tasks);
  const share = o.budgetMs / 4;
  const cold: number[] = [];
  const warm: number[] = [];
  await sampleUnderBudget(Math.max(2, Math.ceil(o.reps / 2)), share, async () => {
    cold.push(await firstPageSample(root, true));
  });
  await sampleUnderBudget(o.reps, share, async () => {
    warm.push(await firstPageSample(root, false));
  });
  o.say('board: routing with the daemon, the board running and stopped by turns...');
  const stopDaemon = await startDaemon(root);
  try {
    const b = await startBoard(root);
    const close = watchLikeAPage(b);
    try {
      await firstPage(b); // its first snapshot built, as when a person has the page open
      const { without, withBoard } = await routingByTurns(root, b, o.reps * 2, share * 2);
      return {
        tasks: o.tasks,
        firstPageCold: summarise(cold),
        firstPageWarm: summarise(warm),
        routingWithout: summarise(without),
        routingWith: summarise(withBoard),
      };
    } finally {
      close();
      b.child.kill('SIGCONT');
      await b.stop();
    }
  } finally {
    await stopDaemon();
  }
}

/**
 * Routing samples in pairs, board stopped (SIGSTOP: it takes no CPU and reads nothing) then running
 * (SIGCONT, and time to catch up on what it missed), so a busy machine's drift falls on both alike.
 */
async function routingByTurns(root: string, b: BoardProcess, pairs: number, budgetMs: number) {
  const without: number[] = [];
  const withBoard: number[] = [];
  await sampleUnderBudget(pairs, budgetMs, async (i) => {
    b.child.kill('SIGSTOP');
    without.push(await routeOnce(root, 2 * i));
    b.child.kill('SIGCONT');
    await firstPage(b); // caught up: it answers, so it has handled what it missed
    withBoard.push(await routeOnce(root, 2 * i + 1));
  });
  return { without, withBoard };
}

export function boardText(f: BoardFigures): string {
  const ms = (s: Samples) =>
    `${s.medianMs.toFixed(0)} ms (min ${s.minMs.toFixed(0)}, max ${s.maxMs.toFixed(0)}, n=${s.samplesMs.length})`;
  return [
    `board (issue 13), ${f.tasks} tasks:`,
    `  first page, ls cache cold   ${ms(f.firstPageCold)}   target < 1000 ms`,
    `  first page, ls cache warm   ${ms(f.firstPageWarm)}   target < 1000 ms`,
    `  routing, no board           ${ms(f.routingWithout)}`,
    `  routing, board + page open  ${ms(f.routingWith)}   difference of medians ${(f.routingWith.medianMs - f.routingWithout.medianMs).toFixed(0)} ms`,
  ].join('\n');
}
