// Runs the built `mailroom` binary as a real process, the way users and agents run it.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseTask } from '../../src/task/parse.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const BIN = join(REPO, 'dist/bin/mailroom.js');

export function requireBuild(): void {
  if (!existsSync(BIN))
    throw new Error(`${BIN} is missing: run \`npm run build\` (npm test does it for you)`);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; input?: string } = {},
): Promise<RunResult> {
  requireBuild();
  return new Promise((resolvePromise, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
    delete env.MAILROOM_ROOT;
    delete env.MAILROOM_AGENT;
    Object.assign(env, opts.env);
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? REPO,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
    // A child may exit before reading its input (a usage error): that EPIPE is not a failure.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** A fresh temp folder, removed by the returned cleanup. */
export async function tempDir(
  prefix = 'mailroom-test-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A new mailroom with agents dispatch, human and `extraAgents`; returns a runner bound to it, and two
 * shorthands: `send` (a task from dispatch, its id) and `taskAt` (a task file read and parsed).
 */
export async function newMailroom(extraAgents: string[] = ['research']) {
  const { dir, cleanup } = await tempDir();
  const root = join(dir, 'mr');
  const init = await runCli(['init', root]);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  for (const a of extraAgents) {
    const r = await runCli(['agent', 'add', a, '--root', root]);
    if (r.code !== 0) throw new Error(`agent add failed: ${r.stderr}`);
  }
  const mr = (args: string[], opts: { env?: Record<string, string>; input?: string } = {}) =>
    runCli([...args, '--root', root], opts);
  /** `send TO TITLE --as dispatch`: the new task's id; a send that fails throws, with its stderr. */
  const send = async (title: string, to = 'research'): Promise<string> => {
    const r = await mr(['send', to, title, '--as', 'dispatch']);
    if (r.code !== 0) throw new Error(`send exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  };
  /** The task file at `rel` (from the root), parsed; an unreadable one throws its problem. */
  const taskAt = async (rel: string) => {
    const r = parseTask(await readFile(join(root, rel), 'utf8'));
    if (!r.ok) throw new Error(r.problem.reason);
    return r.value;
  };
  return { root, dir, mr, send, taskAt, cleanup };
}
