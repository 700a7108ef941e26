// Starts the real `mailroom daemon` as a child process on a test mailroom, or runs its pass function
// in the test's process, and reads what it did.

import { type ChildProcess, spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type PassOutcome, type PassState, runPass, SETTLE_MS } from '../../daemon/pass.js';
import { ReportBook } from '../../daemon/reports.js';
import { readEvents } from '../../src/events/log.js';
import { openMailroom } from '../../src/mailroom.js';
import { byId, taskFiles } from '../../torture/support.js';
import { BIN, requireBuild } from './cli.js';
import { pollUntil } from './poll.js';

export interface DaemonHandle {
  child: ChildProcess;
  output: () => string;
  /** SIGTERM (clean stop) and wait; returns the exit code. */
  stop: () => Promise<number | null>;
  /** SIGKILL and wait. */
  kill: () => Promise<void>;
}

export async function startDaemon(root: string, args: string[] = ['--rescan', '1s']): Promise<DaemonHandle> {
  requireBuild();
  const env = { ...process.env };
  delete env.MAILROOM_ROOT;
  delete env.MAILROOM_AGENT;
  const child = spawn(process.execPath, [BIN, 'daemon', '--root', root, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await pollUntil(
    'the daemon to start',
    () => out.includes('mailroom daemon watching') || child.exitCode !== null,
    15_000,
  );
  if (child.exitCode !== null) throw new Error(`daemon exited at start: ${out}`);
  return {
    child,
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * The daemon's pass function on `root`, run as the daemon runs it: a file is judged only once it has
 * stayed unchanged for SETTLE_MS between two passes, so this runs one pass, waits, and runs another.
 * Without `state`, a fresh one (a daemon just started).
 */
export async function daemonPass(root: string, state?: PassState): Promise<PassOutcome> {
  const mr = await openMailroom(root);
  state ??= { reports: new ReportBook(mr), known: new Map() };
  await runPass(mr, state);
  await new Promise((r) => setTimeout(r, SETTLE_MS + 100));
  return runPass(mr, state);
}

export interface LogEvent {
  type: string;
  id?: string;
  path?: string;
  [key: string]: unknown;
}

/**
 * Every kept event, rotated files included. Read while the daemon appends, the last line can be
 * half-written (a reader may see a write in progress): readEvents skips such a line, and the next
 * poll sees it whole.
 */
export async function events(root: string): Promise<LogEvent[]> {
  return readEvents(join(root, '.mailroom/events.jsonl'));
}

/** All task file names under agents/<agent>/<box>. */
export async function box(
  root: string,
  agent: string,
  which: 'inbox' | 'outbox' | 'archive',
): Promise<string[]> {
  return (await readdir(join(root, 'agents', agent, which)).catch(() => [] as string[])).sort();
}

/** Every `<id>.md` in every box: where each id lives. */
export async function locations(root: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const agent of await readdir(join(root, 'agents'))) {
    for (const b of ['inbox', 'outbox', 'archive'] as const) {
      for (const name of await box(root, agent, b)) {
        if (!name.endsWith('.md') || name.startsWith('.')) continue;
        const id = name.slice(0, -3);
        out.set(id, [...(out.get(id) ?? []), `${agent}/${b}`]);
      }
    }
  }
  return out;
}

/** Where the copies of task `id` are on one side: their paths from the root (agents/<agent>/<box>/<id>.md). */
export async function where(root: string, id: string): Promise<string[]> {
  return (byId(await taskFiles(root)).get(id) ?? []).map((c) => c.rel);
}
