// Timing primitives for the benchmark: medians, repeated samples under a time budget, and child
// processes timed from spawn to exit. Figures are wall-clock milliseconds from performance.now().

import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Samples {
  medianMs: number;
  minMs: number;
  maxMs: number;
  samplesMs: number[];
}

export function summarise(samples: readonly number[]): Samples {
  return {
    medianMs: median(samples),
    minMs: Math.min(...samples),
    maxMs: Math.max(...samples),
    samplesMs: samples.map((x) => Math.round(x * 10) / 10),
  };
}

/**
 * Runs `fn` up to `reps` times within `budgetMs`: always once, then again only while the time spent
 * plus one more sample (at the mean so far) still fits. The bench must finish in minutes on a small,
 * shared machine, so slow figures get fewer samples (the report says so), never none.
 */
export async function sampleUnderBudget(
  reps: number,
  budgetMs: number,
  fn: (i: number) => Promise<void>,
): Promise<number> {
  const started = performance.now();
  let done = 0;
  while (done < reps) {
    const spent = performance.now() - started;
    if (done > 0 && spent + spent / done > budgetMs) break;
    await fn(done);
    done++;
  }
  return done;
}

/**
 * Shares what is left of the bench's time between its sections. Fixed sections (a daemon's start-up,
 * an idle window, clean-up) take what they take and are reserved; when the run is behind (a slow or
 * busy machine), every sampled section still ahead is shortened in the same proportion, so the last
 * ones are not starved.
 */
export class TimePlan<S extends string> {
  constructor(
    private readonly endAt: number,
    private readonly sections: readonly { name: S; ms: number; fixed?: boolean }[],
  ) {}

  budget(section: S): number {
    const i = this.sections.findIndex((s) => s.name === section);
    const ahead = this.sections.slice(i);
    const reserved = ahead.filter((s) => s.fixed).reduce((sum, s) => sum + s.ms, 0);
    const wanted = ahead.filter((s) => !s.fixed).reduce((sum, s) => sum + s.ms, 0);
    const left = this.endAt - performance.now() - reserved;
    const scale = wanted > 0 ? Math.max(0, Math.min(1, left / wanted)) : 1;
    return this.sections[i]!.ms * scale;
  }
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Spawn, wait for exit, time it. Output is kept (small for every command the bench runs). */
export function runProcess(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; discardStdout?: boolean } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', opts.discardStdout ? 'ignore' : 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - t }));
  });
}

/** Like runProcess, but a non-zero exit is an error quoting the command and its stderr. */
export async function mustRun(
  cmd: string,
  args: readonly string[],
  opts: Parameters<typeof runProcess>[2] = {},
): Promise<ProcessResult> {
  const r = await runProcess(cmd, args, opts);
  if (r.code !== 0)
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.code}\n${r.stderr.slice(-2000)}${r.stdout.slice(-500)}`,
    );
  return r;
}

/** Poll `check` every `everyMs` until it holds; throws naming `what` after `timeoutMs`. */
export async function pollUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 20,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}
