// The agent figures of issue 12: (1) the time from a `send` to a waiting `mailroom wait` printing
// it (target: median <= 50 ms on one machine), and (2) MCP tool-call latency for `list` and `next`
// against a long-running `mailroom mcp` on a 10,000-task mailroom (target: median <= 10 ms; the
// server pays no start-up per call). Runs alone (`node dist/bench/agent-figures.js [--tasks N]`, no
// sshd needed) or as a section of `npm run bench` on its big mailroom. MCP_PROF=DIR runs the MCP
// server under `node --cpu-prof` into DIR (with `BUNDLE_MINIFY=0 npm run build` for readable names).

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { openMailroom } from '../src/mailroom.js';
import { sendTask } from '../src/ops/send.js';
import { addAgent, initMailroom } from '../src/ops/setup.js';
import { mapLimit } from '../src/store/scan.js';
import { isoSeconds } from '../src/task/id.js';
import { taskText } from './fixture.js';
import { CLI, nodeEnv } from './mailroom-cli.js';
import { pollUntil, type Samples, sampleUnderBudget, summarise } from './measure.js';

export interface AgentFigures {
  /** sendTask (the op `mailroom send` runs) -> the waiting process's stdout. */
  sendToWait: Samples;
  /** The same from the start of a `mailroom send` process (its Node start-up included). */
  cliSendToWait: Samples;
  mcpList: Samples;
  mcpNext: Samples;
  tasks: number;
  mcpAgent: string;
}

/** One `mailroom wait` process, asleep on file events; resolves when it prints. */
async function sleepingWaiter(root: string, agent: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'wait', '--as', agent, '--timeout', '60s', '--root', root],
    {
      env: nodeEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const printed = new Promise<number>((resolve) =>
    child.stdout!.once('data', () => resolve(performance.now())),
  );
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await pollUntil('mailroom wait to fall asleep', () => err.includes('waiting for news'), 30_000, 5);
  return { printed, exited };
}

async function sendToWait(root: string, agent: string, reps: number, budgetMs: number, viaCli: boolean) {
  const mr = await openMailroom(root);
  const samples: number[] = [];
  await sampleUnderBudget(reps, budgetMs, async (i) => {
    const waiter = await sleepingWaiter(root, agent);
    const t0 = performance.now();
    if (viaCli)
      spawn(process.execPath, [CLI, 'send', agent, `cli ${i}`, '--root', root], {
        env: nodeEnv(),
        stdio: 'ignore',
      });
    else await sendTask(mr, { to: agent, from: 'dispatch', title: `latency ${i}` });
    samples.push((await waiter.printed) - t0);
    await waiter.exited;
  });
  return summarise(samples);
}

async function mcpLatency(root: string, agent: string, reps: number, budgetMs: number) {
  const client = new Client({ name: 'mailroom-bench', version: '1' });
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(nodeEnv())) if (v !== undefined) env[k] = v;
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [
        ...(process.env.MCP_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.MCP_PROF}`] : []),
        CLI,
        'mcp',
        '--as',
        agent,
        '--root',
        root,
      ],
      env,
    }),
  );
  try {
    const call = async (name: string) => {
      const t = performance.now();
      const r = await client.callTool({ name, arguments: {} });
      if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
      return performance.now() - t;
    };
    await call('list'); // the first call fills the ls cache for this agent's inbox
    const list: number[] = [];
    const next: number[] = [];
    await sampleUnderBudget(reps, budgetMs / 2, async () => {
      list.push(await call('list'));
    });
    await sampleUnderBudget(reps, budgetMs / 2, async () => {
      next.push(await call('next'));
    });
    return { list: summarise(list), next: summarise(next) };
  } finally {
    await client.close();
  }
}

/** A waiting agent (its own, small inbox) added to the mailroom at `root`. */
async function addWaiter(root: string): Promise<string> {
  const mr = await openMailroom(root);
  const agent = 'waiter';
  if (!(agent in mr.config.agents)) await addAgent(mr, agent, {});
  return agent;
}

export async function benchAgents(
  root: string,
  opts: { tasks: number; mcpAgent: string; reps: number; budgetMs: number; say: (line: string) => void },
): Promise<AgentFigures> {
  const waiter = await addWaiter(root);
  opts.say('agents: send -> waiting process...');
  const op = await sendToWait(root, waiter, opts.reps, opts.budgetMs / 4, false);
  const cli = await sendToWait(root, waiter, opts.reps, opts.budgetMs / 4, true);
  opts.say('agents: MCP tool calls...');
  const mcp = await mcpLatency(root, opts.mcpAgent, opts.reps, opts.budgetMs / 2);
  return {
    sendToWait: op,
    cliSendToWait: cli,
    mcpList: mcp.list,
    mcpNext: mcp.next,
    tasks: opts.tasks,
    mcpAgent: opts.mcpAgent,
  };
}

const ms = (s: Samples) =>
  `median ${s.medianMs.toFixed(1)} ms (min ${s.minMs.toFixed(1)}, max ${s.maxMs.toFixed(1)}, n=${s.samplesMs.length})`;
const verdict = (s: Samples, target: number) => (s.medianMs <= target ? 'met' : 'NOT met');

export function agentText(f: AgentFigures): string {
  return [
    `Agents (issue 12), ${f.tasks} tasks, MCP as ${f.mcpAgent}:`,
    `  send -> waiting process prints it: ${ms(f.sendToWait)}; target <= 50 ms: ${verdict(f.sendToWait, 50)}`,
    `  the same from a \`mailroom send\` process (its start-up included): ${ms(f.cliSendToWait)}`,
    `  MCP tools/call list: ${ms(f.mcpList)}; target <= 10 ms: ${verdict(f.mcpList, 10)}`,
    `  MCP tools/call next: ${ms(f.mcpNext)}; target <= 10 ms: ${verdict(f.mcpNext, 10)}`,
  ].join('\n');
}

/** Standalone: a local mailroom of N queued tasks over 20 agents (files written directly, an hour old). */
async function standalone(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tasks: { type: 'string', default: '10000' },
      reps: { type: 'string', default: '30' },
      json: { type: 'boolean', default: false },
    },
  });
  const tasks = Number(values.tasks);
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-agent-bench-'));
  const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
  try {
    const root = join(dir, 'mr');
    await initMailroom(root);
    const mr = await openMailroom(root);
    const agents = Array.from({ length: 20 }, (_, i) => `a${String(i).padStart(2, '0')}`);
    for (const a of agents) await addAgent(mr, a, {});
    say(`writing ${tasks} tasks...`);
    const old = new Date(Date.now() - 3_600_000);
    await mapLimit(
      Array.from({ length: tasks }, (_, n) => n),
      32,
      async (n) => {
        const agent = agents[n % agents.length]!;
        const path = join(
          root,
          'agents',
          agent,
          'inbox',
          `20260101-000000-${n.toString(36).padStart(4, '0')}.md`,
        );
        await writeFile(path, taskText(n, agent, 0, isoSeconds(old)));
        await utimes(path, old, old);
      },
    );
    const f = await benchAgents(root, {
      tasks,
      mcpAgent: 'a00',
      reps: Number(values.reps),
      budgetMs: 120_000,
      say,
    });
    console.log(values.json ? JSON.stringify(f, null, 2) : agentText(f));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('agent-figures.js')) await standalone();
