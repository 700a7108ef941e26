// The benchmark's mailroom: a hub with N task files spread over A agents that all live on one far
// host, each file a valid queued task of about 2 KB. Tasks are written straight to disk (no CLI per
// task) so that 10,000 of them take seconds; their ack timeout is long, so a running daemon's
// supervisor has nothing to do with them and the figures measure sync and scanning, not routing.

import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mapLimit } from '../src/map-limit.js';
import { isoSeconds } from '../src/task/id.js';
import { renderTask } from '../src/task/render.js';
import type { Task } from '../src/task/schema.js';
import { CLI, nodeEnv } from './mailroom-cli.js';
import { mustRun } from './measure.js';

export const HOST = 'bench';

export interface TaskRef {
  id: string;
  agent: string;
}

export interface Hub {
  root: string;
  agents: string[];
  tasks: TaskRef[];
  /** Size of one generated task file, in bytes. */
  taskBytes: number;
}

export interface FarHost {
  user: string;
  port: number;
  /** The far mailroom folder mailroom syncs with. */
  root: string;
  identity: string;
  knownHosts: string;
  /** The command that runs mailroom on the far side (for streaming with `mailroom watch`). */
  mailroom: string;
}

const agentName = (i: number) => `a${String(i).padStart(2, '0')}`;
/** Ids are valid and unique without a clock: a fixed stamp and a base-36 counter. */
const taskId = (n: number) => `20260101-000000-${n.toString(36).padStart(4, '0')}`;

const PARAGRAPH =
  'Read the linked sources, summarise each in three sentences, and list open questions. Keep the ' +
  'citations exact; quote page numbers where the source has them. Flag anything that contradicts ' +
  'an earlier finding in this inbox, and say which task it contradicts. ';

/** A body that brings the whole file to about 2 KB. */
function body(n: number, revision: number): string {
  let text = `Revision ${revision} of task ${n}.\n\n## Request\n\n`;
  while (text.length < 1500) text += `${PARAGRAPH}\n\n`;
  return `${text}## Acceptance\n\n- every source summarised\n- open questions listed\n`;
}

/** A task to `agent` from dispatch; with `sentBy`, one that `agent` sends to dispatch instead. */
export function taskText(
  n: number,
  agent: string,
  revision: number,
  created: string,
  sentBy?: 'agent',
): string {
  const from = sentBy ? agent : 'dispatch';
  const task: Task = {
    id: taskId(n),
    title: `Summarise source batch ${n}`,
    from,
    to: sentBy ? 'dispatch' : agent,
    state: 'queued',
    priority: (['normal', 'high', 'low', 'urgent'] as const)[n % 4]!,
    created,
    attempt: 1,
    max_attempts: 3,
    ack_timeout: '30d',
    run_timeout: '30m',
    history: [{ state: 'queued', at: created, by: from }],
  };
  return renderTask(task, body(n, revision));
}

function configYaml(initial: string, agents: readonly string[], far: FarHost): string {
  const agentLines = agents.map((a) => `  ${a}: { host: ${HOST} }`).join('\n');
  return initial
    .replace(/^agents:\n/m, `agents:\n${agentLines}\n`)
    .concat(
      `hosts:\n  ${HOST}:\n    ssh: ${far.user}@127.0.0.1:${far.port}\n    root: ${far.root}\n` +
        `    identity: ${far.identity}\n    known_hosts: ${far.knownHosts}\n    mailroom: ${far.mailroom}\n`,
    );
}

/**
 * `mailroom init`, then agents and the host written into mailroom.yaml, then the task files, dated an
 * hour back (a big mailroom is mostly old tasks; it also keeps every file out of the scan's 2 s racy
 * window, so the first pass's hashes are trusted by the next one). With `seed`, the same agents'
 * folders are written there too, with the same dates, as a far host that already holds the tasks.
 */
export async function buildHub(
  root: string,
  opts: { tasks: number; agents: number; far: FarHost; seed?: string },
): Promise<Hub> {
  await mustRun(process.execPath, [CLI, 'init', root], { env: nodeEnv() });
  const agents = Array.from({ length: opts.agents }, (_, i) => agentName(i));
  const configPath = join(root, 'mailroom.yaml');
  await writeFile(configPath, configYaml(await readFile(configPath, 'utf8'), agents, opts.far));
  const guide = join(root, 'agents/dispatch/AGENT.md');
  for (const a of agents) {
    for (const box of ['inbox', 'outbox', 'archive'])
      await mkdir(join(root, 'agents', a, box), { recursive: true });
    await copyFile(guide, join(root, 'agents', a, 'AGENT.md'));
  }
  const anHourAgo = new Date(Date.now() - 3_600_000);
  const created = isoSeconds(anHourAgo);
  const tasks = Array.from({ length: opts.tasks }, (_, n) => ({
    id: taskId(n),
    agent: agents[n % agents.length]!,
  }));
  let taskBytes = 0;
  const roots = opts.seed ? [root, opts.seed] : [root];
  if (opts.seed) {
    for (const a of agents) {
      for (const box of ['inbox', 'outbox', 'archive'])
        await mkdir(join(opts.seed, 'agents', a, box), { recursive: true });
      await copyFile(guide, join(opts.seed, 'agents', a, 'AGENT.md'));
      await utimes(join(opts.seed, 'agents', a, 'AGENT.md'), anHourAgo, anHourAgo);
      await utimes(join(root, 'agents', a, 'AGENT.md'), anHourAgo, anHourAgo);
    }
  }
  await mapLimit(tasks, 32, async (t, n) => {
    const text = taskText(n, t.agent, 0, created);
    taskBytes = Buffer.byteLength(text);
    for (const r of roots) {
      const path = join(r, 'agents', t.agent, 'inbox', `${t.id}.md`);
      await writeFile(path, text);
      await utimes(path, anHourAgo, anHourAgo);
    }
  });
  return { root, agents, tasks, taskBytes };
}

export const taskFile = (root: string, t: TaskRef, box: 'inbox' | 'outbox' = 'inbox') =>
  join(root, 'agents', t.agent, box, `${t.id}.md`);

/**
 * A new task written on one side for a propagation figure (temp file, rename: how every writer does
 * it). Hub -> far: a task from dispatch in a far agent's inbox. Far -> hub: a task that far agent
 * sends (its outbox, from itself: the far host is untrusted, and a far task claiming to come from a
 * hub agent is quarantined, never carried; docs/spec.md §6). `arrived` says whether it exists on the
 * other side; on the hub, the daemon delivers a task sent from far at once (dispatch's inbox), so
 * either place counts.
 */
export async function writeNewTask(
  hub: Hub,
  n: number,
  created: string,
  on: { root: string; far: boolean },
): Promise<{ id: string; arrived: (otherRoot: string) => boolean }> {
  const agent = hub.agents[n % hub.agents.length]!;
  const t = { id: taskId(n), agent };
  const box = on.far ? 'outbox' : 'inbox';
  const dest = taskFile(on.root, t, box);
  const temp = join(dirname(dest), `.${t.id}.md.tmp-new`);
  await mkdir(dirname(dest), { recursive: true }); // a far outbox exists once `host init` ran
  await writeFile(temp, taskText(n, agent, 0, created, on.far ? 'agent' : undefined));
  await rename(temp, dest);
  return {
    id: t.id,
    arrived: (other) =>
      existsSync(taskFile(other, t, box)) ||
      (on.far && existsSync(taskFile(other, { id: t.id, agent: 'dispatch' }))),
  };
}

/** Rewrite tasks the way an editor or the CLI does (temp file, rename): a new body revision. */
export async function changeTasks(hub: Hub, which: readonly number[], revision: number): Promise<void> {
  const created = isoSeconds(new Date());
  await Promise.all(
    which.map(async (n) => {
      const t = hub.tasks[n]!;
      const path = taskFile(hub.root, t);
      const temp = join(hub.root, 'agents', t.agent, 'inbox', `.${t.id}.md.tmp`);
      await writeFile(temp, taskText(n, t.agent, revision, created));
      await rename(temp, path);
    }),
  );
}

/** `count` task indices spread evenly over the mailroom (so over every agent), shifted per round. */
export function spread(hub: Hub, count: number, round: number, avoid: ReadonlySet<number>): number[] {
  const out = new Set<number>();
  const step = Math.max(1, Math.floor(hub.tasks.length / count));
  for (let j = 0; out.size < count && out.size + avoid.size < hub.tasks.length; j++) {
    let n = (j * step + round * 7 + 3) % hub.tasks.length;
    while (avoid.has(n) || out.has(n)) n = (n + 1) % hub.tasks.length;
    out.add(n);
  }
  return [...out];
}
