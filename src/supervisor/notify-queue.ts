// Escalation notices leave the daemon's pass (docs/spec.md §3, §5): the pass only enqueues, never
// waits on the user's notify command. Per host (the machine of the agent the task was with), at most
// one run per `intervalMs`; whatever arrives meanwhile is coalesced into one notice ("30 tasks
// escalated on vps") when the host's turn comes. One run at a time overall, so a slow or hanging
// command costs one process, never a thousand. Memory is bounded: a host keeps its first few jobs and
// a count. Time is injected (now, setTimer), so the rules are tested without waiting.

import type { NotifyFields, NotifyOutcome } from './notify.js';

export interface NotifyJob {
  /** Where the task was when it was escalated: a host name, or `here` for this machine. */
  host: string;
  fields: NotifyFields;
}

interface HostBatch {
  jobs: NotifyJob[];
  count: number;
}

export interface NotifyQueueOptions {
  run: (fields: NotifyFields) => Promise<NotifyOutcome>;
  /** Least time between two runs for one host (read at each decision: a config reload applies). */
  intervalMs: number | (() => number);
  /** After each run: what was sent (for the event log). */
  onSent?: (fields: NotifyFields, outcome: NotifyOutcome, tasks: number) => void | Promise<void>;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => { unref?: () => void };
  clearTimer?: (t: unknown) => void;
}

/** Jobs kept per host while it waits for its turn; beyond them only the count grows. */
const KEPT_PER_HOST = 20;

/** One notice for `jobs` (count in all, of which `jobs` are the first few): itself when alone. */
export function coalesce(host: string, jobs: readonly NotifyJob[], count: number): NotifyFields {
  const first = jobs[0]!.fields;
  if (count === 1) return first;
  const where = host === 'here' ? 'on this machine' : `on ${host}`;
  const ids = jobs.map((j) => j.fields.id).join(', ');
  return {
    ...first,
    id: jobs.map((j) => j.fields.id).join(' '),
    title: `${count} tasks escalated ${where}`,
    reason: `${ids}${count > jobs.length ? `, and ${count - jobs.length} more` : ''} (mailroom status lists them)`,
    from: 'mailroom',
    to: first.to,
  };
}

export class NotifyQueue {
  private readonly waiting = new Map<string, HostBatch>();
  private readonly lastRun = new Map<string, number>();
  private running: Promise<void> | undefined;
  private timer: unknown;
  private stopped = false;
  /** Runs started so far. */
  runs = 0;

  constructor(private readonly opts: NotifyQueueOptions) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private interval(): number {
    const i = this.opts.intervalMs;
    return typeof i === 'function' ? i() : i;
  }

  /** Look again at who is due (after the interval changed). */
  reconsider(): void {
    this.kick();
  }

  /** Never waits: the notice goes out when its host's turn comes. */
  enqueue(job: NotifyJob): void {
    if (this.stopped) return;
    const batch = this.waiting.get(job.host) ?? { jobs: [], count: 0 };
    if (batch.jobs.length < KEPT_PER_HOST) batch.jobs.push(job);
    batch.count++;
    this.waiting.set(job.host, batch);
    this.kick();
  }

  /** Tasks waiting for a notice. */
  get pending(): number {
    let n = 0;
    for (const b of this.waiting.values()) n += b.count;
    return n;
  }

  private kick(): void {
    if (this.running || this.stopped) return;
    const now = this.now();
    let soonest = Number.POSITIVE_INFINITY;
    for (const host of this.waiting.keys()) {
      const due = (this.lastRun.get(host) ?? Number.NEGATIVE_INFINITY) + this.interval();
      if (due <= now) {
        this.running = this.runHost(host).finally(() => {
          this.running = undefined;
          this.kick();
        });
        return;
      }
      soonest = Math.min(soonest, due);
    }
    if (this.timer !== undefined) (this.opts.clearTimer ?? clearTimeout)(this.timer as NodeJS.Timeout);
    this.timer = undefined;
    if (soonest === Number.POSITIVE_INFINITY) return;
    const t = (this.opts.setTimer ?? setTimeout)(() => {
      this.timer = undefined;
      this.kick();
    }, soonest - now);
    t.unref?.();
    this.timer = t;
  }

  private async runHost(host: string): Promise<void> {
    const batch = this.waiting.get(host)!;
    this.waiting.delete(host);
    this.lastRun.set(host, this.now());
    const fields = coalesce(host, batch.jobs, batch.count);
    this.runs++;
    const outcome = await this.opts.run(fields);
    await Promise.resolve(this.opts.onSent?.(fields, outcome, batch.count)).catch(() => {});
  }

  /** Stops taking and starting notices; waits for the one running (its own timeout bounds it). */
  async stop(): Promise<number> {
    this.stopped = true;
    if (this.timer !== undefined) (this.opts.clearTimer ?? clearTimeout)(this.timer as NodeJS.Timeout);
    await this.running;
    return this.pending;
  }
}
