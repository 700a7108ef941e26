// The daemon: watch, route, supervise, until stopped. Invariants:
// - passes never overlap; a hint during a pass asks for one more pass after it;
// - every wake-up is a full scan (events are hints), at least every `rescanMs`, and also when a
//   settling file or a supervisor deadline is due;
// - a stop (SIGINT/SIGTERM) lets the pass in flight finish, then releases the lock: files are never
//   left half-handled by a clean shutdown (and a kill -9 is covered by atomic writes and healing).

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load.js';
import { type DaemonStatus, writeDaemonStatus } from '../src/daemon-status.js';
import { parseDurationMs } from '../src/duration.js';
import { MailroomError } from '../src/errors.js';
import type { Mailroom } from '../src/mailroom.js';
import { escalate, reassign, retry, SYSTEM_ACTOR } from '../src/ops/lifecycle.js';
import { writeFileAtomic } from '../src/store/atomic.js';
import type { LoadedTask } from '../src/store/scan.js';
import { type Decision, decide } from '../src/supervisor/decide.js';
import { type NotifyFields, runNotify } from '../src/supervisor/notify.js';
import { type NotifyJob, NotifyQueue } from '../src/supervisor/notify-queue.js';
import { policyFromConfig } from '../src/supervisor/policy.js';
import { reassignNote } from '../src/supervisor/reasons.js';
import type { TaskState } from '../src/task/state.js';
import type { KnownState } from './hand-edit.js';
import { acquireInstance } from './instance.js';
import { type PassOutcome, type PassState, runPass, watchedAgents } from './pass.js';
import { ReportBook } from './reports.js';
import { SyncLoops } from './sync-loop.js';
import { watchPaths } from './watch.js';

export interface DaemonOptions {
  /** Full rescan at least this often. */
  rescanMs?: number;
  /** Use polling instead of native file events (network drives, some containers). */
  polling?: boolean;
  /** Where the daemon says what it does (one line per event worth a person's attention). */
  say?: (line: string) => void;
  signal: AbortSignal;
}

const knownPath = (mr: Mailroom) => join(mr.layout.stateDir, 'known-states.json');

async function loadKnown(mr: Mailroom): Promise<Map<string, KnownState>> {
  try {
    const data = JSON.parse(await readFile(knownPath(mr), 'utf8')) as Record<string, KnownState>;
    return new Map(Object.entries(data));
  } catch {
    return new Map();
  }
}

export async function runDaemon(mr: Mailroom, opts: DaemonOptions): Promise<DaemonStatus> {
  const say = opts.say ?? (() => {});
  const rescanMs = opts.rescanMs ?? 10_000;
  let lockLost: Error | undefined;
  const release = await acquireInstance(
    mr,
    (err) => {
      lockLost = err;
    },
    say,
  );
  const status: DaemonStatus = {
    pid: process.pid,
    startedAt: mr.now().toISOString(),
    state: 'running',
    passes: 0,
    routed: 0,
    completed: 0,
    escalated: 0,
    reassigned: 0,
    retried: 0,
    unreadable: 0,
    rescanMs,
  };
  const state: PassState = { reports: new ReportBook(mr), known: await loadKnown(mr) };
  await state.reports.load(watchedAgents(mr));
  await writeDaemonStatus(mr, status);
  await mr.log({ type: 'daemon.started', pid: process.pid });
  say(`mailroom daemon watching ${mr.layout.root} (pid ${process.pid})`);

  let configMtime = await stat(mr.layout.configPath).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let knownJson = '';

  const schedule = (delayMs: number) => {
    if (opts.signal.aborted) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void pass(), Math.max(0, delayMs));
  };

  const reloadConfig = async () => {
    const mtime = await stat(mr.layout.configPath).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    if (mtime === configMtime) return;
    configMtime = mtime;
    try {
      mr.config = parseConfig(await readFile(mr.layout.configPath, 'utf8'), mr.layout.configPath);
      say('configuration reloaded');
    } catch (err) {
      status.lastError = `configuration not reloaded: ${err instanceof Error ? err.message : String(err)}`;
      say(status.lastError);
    }
  };

  const notices = new NotifyQueue({
    run: (fields) => runNotify(mr.config.notify ?? 'true', fields, { cwd: mr.layout.root }),
    intervalMs: parseDurationMs(mr.config.notify_interval) ?? 60_000,
    onSent: (fields, outcome, tasks) =>
      mr.log({
        type: outcome.ok ? 'notify.sent' : 'notify.failed',
        id: fields.id,
        code: outcome.code,
        ...(tasks > 1 ? { note: fields.title } : {}),
        ...(outcome.ok ? {} : { reason: outcome.stderr.slice(0, 500) }),
      }),
  });

  const supervise = async (outcome: PassOutcome): Promise<Decision> => {
    const tasks = outcome.tasks.map((t) => ({ id: t.id, agent: t.agent, box: t.box, task: t.parsed.task }));
    const policy = policyFromConfig(mr.config);
    const decision = decide(tasks, policy, mr.now());
    // Re-decide on the task as read under its lock: act only if the same action is still due.
    const stillDue = (action: Decision['actions'][number]) => (t: LoadedTask) => {
      const again = decide([{ id: t.id, agent: t.agent, box: t.box, task: t.parsed.task }], policy, mr.now())
        .actions[0];
      return (
        again?.kind === action.kind &&
        (again.kind !== 'reassign' || (action.kind === 'reassign' && again.to === action.to))
      );
    };
    for (const down of decision.workerDown) {
      await mr.log({ type: 'worker.down', agent: down.agent, id: down.id });
    }
    for (const action of decision.actions) {
      try {
        if (action.kind === 'reassign') {
          await reassign(mr, action.id, action.to, {
            system: SYSTEM_ACTOR,
            note: reassignNote(action.from, action.to, action.reason),
            onlyIf: stillDue(action),
          });
          status.reassigned++;
          say(`reassigned ${action.id} from ${action.from} to ${action.to}: ${action.reason}`);
        } else if (action.kind === 'retry') {
          await retry(mr, action.id, {
            system: SYSTEM_ACTOR,
            to: action.to,
            note: action.reason,
            onlyIf: stillDue(action),
          });
          status.retried++;
          say(`retrying ${action.id} on ${action.to}: ${action.reason}`);
        } else {
          const r = await escalate(mr, action.id, action.reason, { onlyIf: stillDue(action) });
          status.escalated++;
          say(`escalated ${action.id} to ${mr.config.escalate_to}: ${action.reason}`);
          // Out of the pass: enqueued, coalesced per host, rate-limited (src/supervisor/notify-queue.ts).
          if (mr.config.notify) notices.enqueue(noticeFor(mr, r.after, action.reason));
        }
      } catch (err) {
        // The task changed under us (a person acted first): the next pass decides again.
        const message = err instanceof MailroomError ? err.message : String(err);
        await mr.log({ type: 'supervisor.skipped', id: action.id, reason: message });
      }
    }
    return decision;
  };

  const onePass = async () => {
    const started = Date.now();
    await reloadConfig();
    const outcome = await runPass(mr, state);
    const decision = await supervise(outcome);
    status.passes++;
    status.routed += outcome.routed;
    status.completed += outcome.completed;
    status.unreadable = state.reports.open.size;
    status.lastPassAt = mr.now().toISOString();
    status.lastPassMs = Date.now() - started;
    if (outcome.problems.length > 0)
      status.lastError = outcome.problems
        .map((p) => `${p.path}: ${p.reason}`)
        .join('; ')
        .slice(0, 1000);
    if (outcome.routed) say(`routed ${outcome.routed} finished task(s) back to their senders`);
    if (outcome.completed) say(`completed ${outcome.completed} dropped file(s) into tasks`);
    const json = JSON.stringify(Object.fromEntries(state.known));
    if (json !== knownJson) {
      await writeFileAtomic(knownPath(mr), json, { mkdir: true });
      knownJson = json;
    }
    await writeDaemonStatus(mr, status);
    // Acting may have changed files (moves, escalations): look again soon rather than in rescanMs.
    const acted = outcome.routed + outcome.moved + outcome.completed + decision.actions.length > 0;
    const now = Date.now();
    const wake = Math.min(
      now + rescanMs,
      outcome.recheckAt ?? Number.POSITIVE_INFINITY,
      decision.nextCheckAt ? decision.nextCheckAt.getTime() + 50 : Number.POSITIVE_INFINITY,
      acted ? now + 50 : Number.POSITIVE_INFINITY,
    );
    schedule(wake - now);
  };

  const pass = async (): Promise<void> => {
    if (opts.signal.aborted) return;
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        if (lockLost) throw new Error(`daemon lock lost: ${lockLost.message}`);
        await onePass();
      } catch (err) {
        status.lastError = err instanceof Error ? err.message : String(err);
        say(`pass failed: ${status.lastError}`);
        schedule(rescanMs);
      } finally {
        running = undefined;
      }
    })();
    await running;
    if (again && !opts.signal.aborted) {
      again = false;
      await pass();
    }
  };

  const syncs = new SyncLoops(mr, say);
  let hintTimer: NodeJS.Timeout | undefined;
  const hint = (path: string) => {
    const under = path.startsWith(`${mr.layout.agentsDir}/`)
      ? path.slice(mr.layout.agentsDir.length + 1)
      : '';
    const agent = under.split('/')[0];
    if (agent) syncs.localChange(agent, `agents/${under}`);
    if (hintTimer) return;
    hintTimer = setTimeout(() => {
      hintTimer = undefined;
      void pass();
    }, 30); // gather a burst of events into one pass
  };
  const watcher = await watchPaths([mr.layout.agentsDir, mr.layout.configPath], hint, {
    polling: opts.polling ?? false,
    onError: (err) => say(`watcher error (the periodic rescan covers it): ${String(err)}`),
  });

  // The sync loops do not wait for the first pass: a pass may run long (a big backlog) or run again
  // and again while changes keep arriving, and far work must still flow meanwhile.
  syncs.start();
  void pass();
  await new Promise<void>((resolve) => {
    if (opts.signal.aborted) resolve();
    else opts.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  if (timer) clearTimeout(timer);
  if (hintTimer) clearTimeout(hintTimer);
  await watcher.close();
  await syncs.stop();
  await running;
  const unsent = await notices.stop();
  if (unsent > 0)
    await mr.log({
      type: 'notify.dropped',
      note: `${unsent} escalation notice(s) not sent: the daemon stopped`,
    });
  status.state = 'stopped';
  await writeDaemonStatus(mr, status);
  await mr.log({ type: 'daemon.stopped', pid: process.pid });
  await release().catch(() => {});
  say('mailroom daemon stopped');
  return status;
}

/** The notice for an escalated task, keyed by the machine of the agent it was with. */
function noticeFor(mr: Mailroom, after: LoadedTask, reason: string): NotifyJob {
  const t = after.parsed.task;
  const fields: NotifyFields = {
    id: t.id,
    title: t.title,
    reason,
    from: t.from,
    to: t.to,
    state: t.state as TaskState,
    priority: t.priority,
    path: after.path,
    root: mr.layout.root,
  };
  return { host: mr.config.agents[t.to]?.host ?? 'here', fields };
}
