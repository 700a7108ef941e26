// Runs the user's `notify` command when a task is escalated (docs/spec.md §3 and §5).
// Invariant: task fields reach the command only as environment variables. The command string is the
// user's own, from mailroom.yaml, and goes to `/bin/sh -c` untouched; a title such as `$(rm -rf ~)`
// is data in $MAILROOM_TITLE and is expanded only if the user's command itself says `eval`.
// A notification is best effort: this never throws, and never outlives its timeout.

import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface NotifyFields {
  id: string;
  title: string;
  reason: string;
  from: string;
  to: string;
  state: string;
  priority: string;
  /** The task file, absolute. */
  path: string;
  /** The mailroom root, absolute. */
  root: string;
}

export interface NotifyOptions {
  cwd?: string;
  /** Default 30 s; then the command's whole process group is killed. */
  timeoutMs?: number;
}

export interface NotifyOutcome {
  /** Exited with status 0 within the timeout. */
  ok: boolean;
  /** Exit status; null when killed by a signal, timed out, or never started. */
  code: number | null;
  /** What the command wrote to stderr (capped), or why it could not start. */
  stderr: string;
  timedOut: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const STDERR_CAP = 8 * 1024;
/** Linux refuses a single environment string over 128 KiB; a field this long is not a notification. */
const FIELD_CAP = 16 * 1024;
/** After the shell exits, how long to wait for stderr to close (a backgrounded child may hold it). */
const DRAIN_MS = 200;

const ENV_NAMES: Record<keyof NotifyFields, string> = {
  id: 'MAILROOM_ID',
  title: 'MAILROOM_TITLE',
  reason: 'MAILROOM_REASON',
  from: 'MAILROOM_FROM',
  to: 'MAILROOM_TO',
  state: 'MAILROOM_STATE',
  priority: 'MAILROOM_PRIORITY',
  path: 'MAILROOM_PATH',
  root: 'MAILROOM_ROOT',
};

/** The command's environment: ours, minus any MAILROOM_* inherited from the daemon, plus the fields. */
export function notifyEnv(fields: NotifyFields, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // An inherited MAILROOM_AGENT (say) would describe the daemon, not the task; the command must see
  // only what describes this escalation.
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('MAILROOM_')) env[k] = v;
  for (const key of Object.keys(ENV_NAMES) as (keyof NotifyFields)[]) {
    env[ENV_NAMES[key]] = envValue(fields[key]);
  }
  return env;
}

/** An environment value cannot hold NUL (the C string ends there); newlines and quotes pass as they are. */
function envValue(text: string): string {
  const clean = text.replaceAll('\0', '');
  if (clean.length <= FIELD_CAP) return clean;
  let cut = clean.slice(0, FIELD_CAP);
  // Do not leave half a surrogate pair at the cut.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/**
 * Runs `command` under `/bin/sh -c` with the task's fields in its environment: captures its stderr
 * (capped), waits for it to exit (and for stderr to drain), kills its process group at the timeout.
 */
export function runNotify(
  command: string,
  fields: NotifyFields,
  opts: NotifyOptions = {},
): Promise<NotifyOutcome> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve) => {
    const end = new Ending(resolve);
    let child: ChildProcess;
    try {
      child = startShell(command, fields, opts.cwd);
    } catch (err) {
      end.finish(couldNotRun(err));
      return;
    }
    const stderrText = captureStderr(child.stderr);
    // spawn failed (cwd missing, /bin/sh missing): there is no process to wait for.
    child.on('error', (err) => end.finish(couldNotRun(err)));
    awaitExit(child, timeoutMs, stderrText, end);
  });
}

/** The one outcome of a run: the first `finish` wins, and clears the timers still pending. */
class Ending {
  private settled = false;
  timer: NodeJS.Timeout | undefined;
  drain: NodeJS.Timeout | undefined;

  constructor(private readonly resolve: (outcome: NotifyOutcome) => void) {}

  finish(outcome: NotifyOutcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    clearTimeout(this.drain);
    this.resolve(outcome);
  }
}

function startShell(command: string, fields: NotifyFields, cwd: string | undefined): ChildProcess {
  return spawn('/bin/sh', ['-c', command], {
    cwd,
    env: notifyEnv(fields),
    // Its own process group, so that a timeout kills what the shell started as well.
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

function couldNotRun(err: unknown): NotifyOutcome {
  return { ok: false, code: null, stderr: `could not run notify: ${messageOf(err)}`, timedOut: false };
}

/** Keeps the first STDERR_CAP bytes of stderr; the returned function reads what was kept so far. */
function captureStderr(stderr: Readable | null): () => string {
  const chunks: Buffer[] = [];
  let kept = 0;
  let truncated = false;
  stderr?.on('data', (chunk: Buffer) => {
    if (kept >= STDERR_CAP) {
      truncated = true;
      return;
    }
    const part = chunk.subarray(0, STDERR_CAP - kept);
    if (part.length < chunk.length) truncated = true;
    chunks.push(part);
    kept += part.length;
  });
  // Reading stderr must not fail the notification; the outcome is what matters.
  stderr?.on('error', () => {});
  return () => {
    const text = Buffer.concat(chunks).toString('utf8');
    return truncated ? `${text}\n[stderr truncated at ${STDERR_CAP} bytes]` : text;
  };
}

/** Ends the run when the command exits and stderr closes, or when the timeout kills its group. */
function awaitExit(child: ChildProcess, timeoutMs: number, stderrText: () => string, end: Ending): void {
  let timedOut = false;
  let exitCode: number | null = null;
  const exited = (code: number | null): NotifyOutcome => ({
    ok: code === 0,
    code,
    stderr: stderrText(),
    timedOut: false,
  });
  const timedOutOutcome = (): NotifyOutcome => ({
    ok: false,
    code: null,
    stderr: stderrText(),
    timedOut: true,
  });
  // A child the command put in the background may keep stderr open: stop waiting for it after a moment.
  const afterDrain = (outcome: () => NotifyOutcome) => {
    end.drain = setTimeout(() => {
      child.stderr?.destroy();
      end.finish(outcome());
    }, DRAIN_MS);
  };

  child.on('exit', (code) => {
    exitCode = code;
    clearTimeout(end.timer);
    if (timedOut) return;
    // stderr may still hold unread bytes; 'close' comes once it is drained.
    afterDrain(() => exited(code));
  });
  child.on('close', () => end.finish(timedOut ? timedOutOutcome() : exited(exitCode)));
  end.timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
    // If something in the group survived SIGKILL's delivery race and holds stderr, do not wait on it.
    afterDrain(timedOutOutcome);
  }, timeoutMs);
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone (ESRCH): nothing left to stop.
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
