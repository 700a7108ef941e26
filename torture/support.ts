// What every torture scenario needs: temp mailrooms, the real daemon as a child process, a look at
// every task file on a side, lock clean-up after a kill, polling with a deadline, and the tally of
// trials, failures and losses that becomes a scenario's figure line. Free of vitest, so the same code
// runs under `npm run torture` (compiled) and inside `npm test` (test/torture/).

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type MailroomEvent, readEvents as readEventLog } from '../src/events/log.js';
import { renderTask } from '../src/task/render.js';
import type { Task } from '../src/task/schema.js';

/** The repository root: the nearest folder upwards holding mailroom's package.json. */
function findRepo(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'inbox-template'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the mailroom repository above ${from}`);
    dir = up;
  }
}

export const REPO = findRepo(import.meta.dirname);
export const BIN = join(REPO, 'dist/bin/mailroom.js');
/** Compiled torture workers (child processes) live beside the compiled runner. */
export const WORKERS_DIR = join(REPO, 'dist/torture/workers');

export function requireBuild(): void {
  if (!existsSync(BIN) || !existsSync(WORKERS_DIR))
    throw new Error(`${BIN} or ${WORKERS_DIR} is missing: run \`npm run build\` first`);
}

export const sha256 = (bytes: Uint8Array | string): string =>
  createHash('sha256').update(bytes).digest('hex');

// ------------------------------------------------------------------------------------------------
// Figures

export interface Figure {
  id: string;
  name: string;
  trials: number;
  /** Trials in which any promise was broken (a loss, a crash, a pass that did not complete, ...). */
  failures: number;
  /** Items lost or damaged: tasks, acknowledged edits, input bytes, whole files. */
  losses: number;
  durationMs: number;
  /** What was exercised, for the figure line (e.g. "1,000 tasks, 4,210 acknowledged edits"). */
  facts: string[];
  /** The first problems seen, for a person to read. */
  problems: string[];
}

/**
 * Defects the torture found (docs/reliability.md; each fixed, with a regression test beside the module
 * it protects, its name starting with the id). A broken promise whose signature matches one of them is
 * labelled with its id, so a defect that comes back is recognised. `npm run torture` counts it like any
 * other failure; the bounded subset in `npm test` tolerates only what its TOLERATE lists (nothing today).
 */
export const KNOWN_DEFECTS = {
  D1: 'the mass-delete guard refuses the clean-up of tasks routed home, and sync stops for good',
  D2: 'a routed task is pulled back after a sync pass that died before saving its state: a duplicate for good',
  D3: 'a task escalated on the hub while the far worker finishes it ends up twice on the hub',
  D4: 'a move into a box folder that does not exist yet fails with ENOENT',
  D5: 'a YAML alias bomb makes parsing throw: never reported, and ls, doctor, status and sync fail',
  D6: 'a file whose name is longer than about 224 bytes is never reported (ENAMETOOLONG on the sidecar)',
  D7: 'a box or agent folder that is a symlink is followed: files outside the root are written and moved',
  D8: 'a refused host key (or any failure to connect) leaves no event in the event log',
  D9: 'under a steady stream of changes the daemon does not sync at all (its push timer is reset by every change)',
  D10: 'a task the daemon cannot route makes it pass again and again, and then its sync may never start',
  D11: 'a task moving between two boxes on the far side while a pass lists it is missed, and a stale copy is pushed back',
  D12: 'a file listed but not read (a connection cut mid-scan) reads as deleted: a hub delete is undone by the next pass',
  D13: 'a bad file whose name holds a newline is reported again after a daemon restart',
  D14: 'a far copy written back after a pass dropped its base record is left beside the copy home for good',
} as const;
export type DefectId = keyof typeof KNOWN_DEFECTS;

/** Counts one scenario's trials; a trial fails once however many promises it breaks. */
export class Tally {
  trials = 0;
  failures = 0;
  losses = 0;
  readonly problems: string[] = [];
  readonly facts: string[] = [];
  /** Known defects hit, and how often (tolerated ones included). */
  readonly defects = new Map<DefectId, number>();
  private failedThisTrial = false;

  constructor(
    readonly id: string,
    readonly name: string,
    private readonly log: (line: string) => void = () => {},
    private readonly tolerate: ReadonlySet<DefectId> = new Set(),
  ) {}

  /**
   * A broken promise attributed to a known defect: a failure (labelled) unless tolerated. Losses
   * count as losses either way, so that a tolerated defect can never hide lost data.
   */
  defect(id: DefectId, what: string, lost = 0): void {
    this.defects.set(id, (this.defects.get(id) ?? 0) + 1);
    if (this.tolerate.has(id) && lost === 0) {
      this.log(`  ${this.id} trial ${this.trials}: known defect ${id} (tolerated): ${what}`);
      return;
    }
    this.fail(`[known defect ${id}] ${what}`, lost);
  }

  startTrial(): void {
    this.trials++;
    this.failedThisTrial = false;
  }

  /** A final check after the trials: its failure counts as one more failed trial-sized event. */
  startFinalCheck(): void {
    this.failedThisTrial = false;
  }

  /** A broken promise in the current trial. `lost` counts items lost or damaged (0: no data lost). */
  fail(what: string, lost = 0): void {
    if (!this.failedThisTrial) this.failures++;
    this.failedThisTrial = true;
    this.losses += lost;
    if (this.problems.length < 25) this.problems.push(`trial ${this.trials}: ${what}`);
    this.log(`  ${this.id} trial ${this.trials}: ${lost > 0 ? `LOSS (${lost}) ` : ''}${what}`);
  }

  /** Checks `ok`; records a failure (and `lost` losses) when it is false. */
  check(ok: boolean, what: () => string, lost = 0): boolean {
    if (!ok) this.fail(what(), lost);
    return ok;
  }

  figure(durationMs: number): Figure {
    if (this.defects.size > 0)
      this.facts.push(`known defects hit: ${[...this.defects].map(([d, n]) => `${d} x${n}`).join(', ')}`);
    return {
      id: this.id,
      name: this.name,
      trials: this.trials,
      failures: this.failures,
      losses: this.losses,
      durationMs,
      facts: this.facts,
      problems: this.problems,
    };
  }
}

export function formatFigure(f: Figure): string {
  const facts = f.facts.length > 0 ? `  (${f.facts.join('; ')})` : '';
  return (
    `${f.id} ${f.name.padEnd(18)} trials ${String(f.trials).padStart(5)}  failures ${String(f.failures).padStart(3)}` +
    `  losses ${String(f.losses).padStart(3)}  duration ${(f.durationMs / 1000).toFixed(1).padStart(6)}s${facts}`
  );
}

// ------------------------------------------------------------------------------------------------
// Folders and files

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `mailroom-torture-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A mailroom folder with the given configuration text and the boxes of `agents` (no CLI, no template). */
export async function makeRoot(root: string, config: string, agents: readonly string[]): Promise<void> {
  await mkdir(join(root, '.mailroom'), { recursive: true });
  await writeFile(join(root, 'mailroom.yaml'), config);
  for (const a of agents)
    for (const box of ['inbox', 'outbox', 'archive'])
      await mkdir(join(root, 'agents', a, box), { recursive: true });
}

export const T0 = Date.parse('2026-11-22T10:00:00Z');
export const iso = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19)}Z`;

/** A task file as `mailroom send` writes it, with a chosen id. */
export function taskText(
  t: { id: string; from: string; to: string; title?: string } & Partial<Task>,
  body: string,
): string {
  const created = t.created ?? iso(Date.now());
  const task: Task = {
    title: `task ${t.id}`,
    state: 'queued',
    priority: 'normal',
    created,
    attempt: 1,
    max_attempts: 3,
    ack_timeout: '1h',
    run_timeout: '1h',
    history: [{ state: 'queued', at: created, by: t.from }],
    ...t,
  };
  return renderTask(task, body);
}

export interface Copy {
  agent: string;
  box: string;
  id: string;
  /** Relative to the root: agents/<agent>/<box>/<id>.md */
  rel: string;
  path: string;
  ino: number;
  bytes: Buffer;
}

/** Every task-like file (`*.md`, not a dot file) in every box of every agent folder on one side. */
export async function taskFiles(root: string): Promise<Copy[]> {
  const out: Copy[] = [];
  const agents = await readdir(join(root, 'agents')).catch(() => [] as string[]);
  for (const agent of agents) {
    for (const box of ['inbox', 'outbox', 'archive']) {
      const dir = join(root, 'agents', agent, box);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!name.endsWith('.md') || name.startsWith('.')) continue;
        const path = join(dir, name);
        try {
          const st = await lstat(path);
          if (!st.isFile()) continue;
          out.push({
            agent,
            box,
            id: name.slice(0, -3),
            rel: `agents/${agent}/${box}/${name}`,
            path,
            ino: st.ino,
            bytes: await readFile(path),
          });
        } catch {
          // gone between readdir and read: a move in flight
        }
      }
    }
  }
  return out;
}

export function byId(copies: readonly Copy[]): Map<string, Copy[]> {
  const m = new Map<string, Copy[]>();
  for (const c of copies) m.set(c.id, [...(m.get(c.id) ?? []), c]);
  return m;
}

/** Every file under `dir` (recursively, links not followed): relative path -> sha256. */
export async function treeHashes(dir: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await readdir(join(dir, rel)).catch(() => [] as string[])) {
    const r = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(dir, r));
    if (st.isDirectory()) for (const [k, v] of await treeHashes(dir, r)) out.set(k, v);
    else if (st.isFile()) out.set(r, sha256(await readFile(join(dir, r))));
    else if (st.isSymbolicLink()) out.set(r, 'symlink');
  }
  return out;
}

/**
 * Removes every `*.lock` folder under `agents/` and `.mailroom/sync/`. Only for use when no process
 * of ours runs on that side any more (the holder was killed): the locks are then dead, and waiting
 * out their 10 s stale time would only slow the torture down (stale take-over has its own tests).
 */
export async function clearDeadLocks(root: string): Promise<number> {
  let n = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.name.endsWith('.lock')) {
        await rm(path, { recursive: true, force: true });
        n++;
      } else if (depth > 0 && e.isDirectory()) {
        await walk(path, depth - 1);
      }
    }
  };
  await walk(join(root, 'agents'), 4);
  await walk(join(root, '.mailroom/sync'), 0);
  return n;
}

/**
 * The pids of processes whose command line (arguments joined by spaces) contains `needle`. Linux
 * only (/proc); elsewhere none are seen.
 */
export async function processesWith(needle: string): Promise<number[]> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((n) => /^\d+$/.test(n));
  const found: number[] = [];
  for (const pid of pids) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.replaceAll('\0', ' ').includes(needle)) found.push(Number(pid));
  }
  return found;
}

/** Every kept event, rotated files included. */
export async function readEvents(root: string): Promise<MailroomEvent[]> {
  return readEventLog(join(root, '.mailroom/events.jsonl'));
}

// ------------------------------------------------------------------------------------------------
// Waiting

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

// ------------------------------------------------------------------------------------------------
// The real daemon, as a child process

export interface DaemonStatusFile {
  pid: number;
  passes: number;
  state: string;
  lastError?: string;
}

/** Every daemon a scenario started and has not seen exit, so that an interrupted run can stop them. */
export const liveDaemons = new Set<DaemonProc>();

export class DaemonProc {
  private out = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly root: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.on('data', (d: Buffer) => this.append(d));
    child.stderr!.on('data', (d: Buffer) => this.append(d));
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        liveDaemons.delete(this);
        resolve({ code, signal });
      }),
    );
    liveDaemons.add(this);
  }

  private append(d: Buffer): void {
    this.out += d.toString();
    if (this.out.length > 200_000) this.out = this.out.slice(-100_000);
  }

  /** Starts `mailroom daemon` and waits until it says it is watching (its first pass follows). */
  static async start(
    root: string,
    args: string[] = [],
    env: Record<string, string> = {},
  ): Promise<DaemonProc> {
    requireBuild();
    const e: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete e.MAILROOM_ROOT;
    delete e.MAILROOM_AGENT;
    const child = spawn(process.execPath, [BIN, 'daemon', '--root', root, ...args], {
      env: e,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const d = new DaemonProc(root, child);
    await waitFor(
      'the daemon to start',
      () => d.out.includes('mailroom daemon watching') || !d.alive,
      30_000,
      10,
    );
    if (!d.alive) throw new Error(`the daemon exited at start: ${d.out}`);
    return d;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.out;
  }

  async status(): Promise<DaemonStatusFile | undefined> {
    try {
      return JSON.parse(await readFile(join(this.root, '.mailroom/daemon.json'), 'utf8')) as DaemonStatusFile;
    } catch {
      return undefined;
    }
  }

  /** Waits until this daemon has finished `n` passes. */
  async passes(n: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `daemon pass ${n}`,
      async () => {
        if (!this.alive) throw new Error(`the daemon died: ${this.out.slice(-2000)}`);
        const s = await this.status();
        return s?.pid === this.pid && s.passes >= n;
      },
      timeoutMs,
      10,
    );
  }

  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: the pass in flight finishes, then the daemon stops. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** Runs the built CLI once. */
export function runCli(
  args: string[],
  opts: { env?: Record<string, string>; input?: string; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  requireBuild();
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.MAILROOM_ROOT;
    delete env.MAILROOM_AGENT;
    Object.assign(env, opts.env);
    const child = spawn(process.execPath, [BIN, ...args], {
      env,
      cwd: opts.cwd ?? REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}
