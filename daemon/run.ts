// The daemon: watch, route, supervise and sync, until stopped. Invariants:
// - passes never overlap; a hint during a pass asks for one more pass after it (serial.ts);
// - every wake-up is a full scan (events are hints), at least every `rescanMs`, and also when a
//   settling file or a supervisor deadline is due;
// - a stop (SIGINT/SIGTERM) lets the pass in flight finish, then releases the lock: files are never
//   left half-handled by a clean shutdown (and a kill -9 is covered by atomic writes and healing).

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../src/config/parse.js';
import { type DaemonStatus, writeDaemonStatus } from '../src/daemon-status.js';
import type { Mailroom } from '../src/mailroom.js';
import { problemLine } from '../src/problem.js';
import { writeFileAtomic } from '../src/store/atomic.js';
import type { Decision } from '../src/supervisor/decide.js';
import type { NotifyQueue } from '../src/supervisor/notify-queue.js';
import type { KnownState } from './hand-edit.js';
import { acquireInstance } from './instance.js';
import { type PassOutcome, type PassState, runPass, watchedAgents } from './pass.js';
import { ReportBook } from './reports.js';
import { SerialRunner } from './serial.js';
import { noticeQueue, supervise } from './supervise.js';
import { SyncLoops } from './sync-loop.js';
import { type Watcher, watchPaths } from './watch.js';

export interface DaemonOptions {
  /** Full rescan at least this often. */
  rescanMs?: number;
  /** Use polling instead of native file events (network drives, some containers). */
  polling?: boolean;
  /** Where the daemon says what it does (one line per event worth a person's attention). */
  say?: (line: string) => void;
  signal: AbortSignal;
}

/** How long a burst of file events gathers into one pass. */
const HINT_GATHER_MS = 30;

/** What the daemon's stages share: the mailroom, its status and pass state, and the rescan pace. */
interface Daemon {
  mr: Mailroom;
  opts: DaemonOptions;
  say: (line: string) => void;
  rescanMs: number;
  status: DaemonStatus;
  state: PassState;
  /** Set when the instance lock was lost: the next pass fails with it. */
  lock: { lost?: Error };
  /** Releases the instance lock (at the stop). */
  release: () => Promise<void>;
  config: ConfigWatch;
  known: KnownStates;
  notices: NotifyQueue;
  /** The current rescan interval (backs off while rescans find nothing new; see nextRescanMs). */
  rescanNow: number;
  /** A file event came since the last pass began. */
  hintedSincePass: boolean;
  /** The pending pass of a burst of file events being gathered. */
  hintTimer?: NodeJS.Timeout | undefined;
}

export async function runDaemon(mr: Mailroom, opts: DaemonOptions): Promise<DaemonStatus> {
  const d = await startDaemon(mr, opts);
  const syncs = new SyncLoops(mr, d.say);
  const passes: SerialRunner = new SerialRunner(() => onePass(d, passes, syncs));
  const watcher = await watchHints(d, passes, syncs);
  // Polling (network drives, odd file systems) reports late or not at all: never trusted for listings.
  if (!opts.polling) syncs.watcherRunning(true);
  // The sync loops do not wait for the first pass: a pass may run long (a big backlog) or run again
  // and again while changes keep arriving, and far work must still flow meanwhile.
  syncs.start();
  void passes.run();
  await aborted(opts.signal);
  await stopDaemon(d, watcher, syncs, passes);
  return d.status;
}

/** The instance lock taken, the reports and known states loaded, the start told (status, log, say). */
async function startDaemon(mr: Mailroom, opts: DaemonOptions): Promise<Daemon> {
  const say = opts.say ?? (() => {});
  const rescanMs = opts.rescanMs ?? 10_000;
  const lock: Daemon['lock'] = {};
  const release = await acquireInstance(mr, (err) => (lock.lost = err), say);
  const status = newStatus(mr, rescanMs);
  const state: PassState = { reports: new ReportBook(mr), known: await loadKnown(mr) };
  await state.reports.load(watchedAgents(mr));
  await writeDaemonStatus(mr, status);
  await mr.log({ type: 'daemon.started', pid: process.pid });
  say(`mailroom daemon watching ${mr.layout.root} (pid ${process.pid})`);

  const config = new ConfigWatch(mr, status, say);
  await config.init();
  return {
    mr,
    opts,
    say,
    rescanMs,
    status,
    state,
    lock,
    release,
    config,
    known: new KnownStates(mr),
    notices: noticeQueue(mr),
    // The rescan is the truth and events are hints: while rescans find nothing the watcher did not
    // report, they come less often (up to 6x --rescan); one that finds a change no event announced
    // brings the interval back to --rescan at once.
    rescanNow: rescanMs,
    hintedSincePass: false,
  };
}

/** One pass (scan, judge, act), then supervise, save, record, and schedule the next wake-up. */
async function onePass(d: Daemon, passes: SerialRunner, syncs: SyncLoops): Promise<void> {
  const { mr, status, state, say } = d;
  if (d.opts.signal.aborted) return;
  try {
    if (d.lock.lost) throw new Error(`daemon lock lost: ${d.lock.lost.message}`);
    await d.config.reload();
    d.notices.reconsider(); // notify_interval may have changed
    const started = Date.now();
    const hinted = d.hintedSincePass;
    d.hintedSincePass = false;
    const outcome = await runPass(mr, state);
    const decision = await supervise(mr, outcome.tasks, status, say, d.notices);
    await d.known.save(state);
    await recordPass(mr, status, state, outcome, Date.now() - started, say);
    d.rescanNow = nextRescanMs(d.rescanNow, d.rescanMs, { changed: outcome.changedFiles > 0, hinted });
    // A change no event announced was missed by the sync's fast path too (it hears the same events).
    // The first pass finds every file new: the sync loops start with a full pass anyway.
    if (outcome.changedFiles > 0 && !hinted && status.passes > 1) syncs.missedLocalChange();
    passes.reschedule(nextWake(outcome, decision, d.rescanNow) - Date.now());
  } catch (err) {
    status.lastError = err instanceof Error ? err.message : String(err);
    say(`pass failed: ${status.lastError}`);
    passes.reschedule(d.rescanMs);
  }
}

/**
 * File events are hints: each tells the sync loops which agent's folder changed, and asks for a
 * pass once a burst has gathered (HINT_GATHER_MS).
 */
function watchHints(d: Daemon, passes: SerialRunner, syncs: SyncLoops): Promise<Watcher> {
  const { mr, say } = d;
  const hint = (path: string) => {
    d.hintedSincePass = true;
    const under = path.startsWith(`${mr.layout.agentsDir}/`)
      ? path.slice(mr.layout.agentsDir.length + 1)
      : '';
    const agent = under.split('/')[0];
    if (agent) syncs.localChange(agent, `agents/${under}`);
    d.hintTimer ??= setTimeout(() => {
      d.hintTimer = undefined;
      void passes.run();
    }, HINT_GATHER_MS);
  };
  return watchPaths([mr.layout.agentsDir, mr.layout.configPath], hint, {
    polling: d.opts.polling ?? false,
    onError: (err) => {
      syncs.watcherRunning(false); // its silence says nothing any more: full passes list every box
      // The watch goes on by polling (daemon/watch.ts); what it missed meanwhile, the rescans find.
      say(
        `watcher error (the folders are polled from now on; the periodic rescan covers what was missed): ${String(err)}`,
      );
    },
  });
}

/**
 * After the stop: no new hint, the sync loops and the pass in flight finished, notices not sent
 * logged, the status and the log told, then the instance lock released.
 */
async function stopDaemon(
  d: Daemon,
  watcher: Watcher,
  syncs: SyncLoops,
  passes: SerialRunner,
): Promise<void> {
  const { mr, status } = d;
  if (d.hintTimer) clearTimeout(d.hintTimer);
  await watcher.close();
  await syncs.stop();
  await passes.stop();
  const unsent = await d.notices.stop();
  if (unsent > 0)
    await mr.log({
      type: 'notify.dropped',
      note: `${unsent} escalation notice(s) not sent: the daemon stopped`,
    });
  status.state = 'stopped';
  await writeDaemonStatus(mr, status);
  await mr.log({ type: 'daemon.stopped', pid: process.pid });
  await d.release().catch(() => {});
  d.say('mailroom daemon stopped');
}

function newStatus(mr: Mailroom, rescanMs: number): DaemonStatus {
  return {
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
}

const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

/** Count the pass into the status file, and say what it did. */
async function recordPass(
  mr: Mailroom,
  status: DaemonStatus,
  state: PassState,
  outcome: PassOutcome,
  ms: number,
  say: (line: string) => void,
): Promise<void> {
  status.passes++;
  status.routed += outcome.routed;
  status.completed += outcome.completed;
  status.unreadable = state.reports.open.size;
  status.lastPassAt = mr.now().toISOString();
  status.lastPassMs = ms;
  if (outcome.problems.length > 0)
    status.lastError = outcome.problems.map(problemLine).join('; ').slice(0, 1000);
  if (outcome.routed) say(`routed ${outcome.routed} finished task(s) back to their senders`);
  if (outcome.completed) say(`completed ${outcome.completed} dropped file(s) into tasks`);
  await writeDaemonStatus(mr, status);
}

/** How far the periodic rescan backs off (a multiple of --rescan). */
const RESCAN_BACKOFF_MAX = 6;

/**
 * The interval to the next rescan: doubled (up to RESCAN_BACKOFF_MAX x `base`) after a pass that
 * found no file changed, kept after one whose changes were announced by file events, and back to
 * `base` after one that found a change no event announced (the watcher missed it).
 */
export function nextRescanMs(
  current: number,
  base: number,
  pass: { changed: boolean; hinted: boolean },
): number {
  if (!pass.changed) return Math.min(current * 2, base * RESCAN_BACKOFF_MAX);
  return pass.hinted ? current : base;
}

/** The next pass: the rescan, a settling file, a supervisor deadline, or soon after acting. */
function nextWake(outcome: PassOutcome, decision: Decision, rescanMs: number): number {
  // Acting may have changed files (moves, escalations): look again soon rather than in rescanMs.
  const acted = outcome.routed + outcome.moved + outcome.completed + decision.actions.length > 0;
  const now = Date.now();
  return Math.min(
    now + rescanMs,
    outcome.recheckAt ?? Number.POSITIVE_INFINITY,
    decision.nextCheckAt ? decision.nextCheckAt.getTime() + 50 : Number.POSITIVE_INFINITY,
    acted ? now + 50 : Number.POSITIVE_INFINITY,
  );
}

/** mailroom.yaml, re-read before a pass when its mtime changed; a broken edit keeps the old one. */
class ConfigWatch {
  private mtime = 0;
  constructor(
    private readonly mr: Mailroom,
    private readonly status: DaemonStatus,
    private readonly say: (line: string) => void,
  ) {}

  private stamp(): Promise<number> {
    return stat(this.mr.layout.configPath).then(
      (s) => s.mtimeMs,
      () => 0,
    );
  }

  async init(): Promise<void> {
    this.mtime = await this.stamp();
  }

  async reload(): Promise<void> {
    const mtime = await this.stamp();
    if (mtime === this.mtime) return;
    this.mtime = mtime;
    try {
      const path = this.mr.layout.configPath;
      this.mr.config = parseConfig(await readFile(path, 'utf8'), path);
      this.say('configuration reloaded');
    } catch (err) {
      this.status.lastError = `configuration not reloaded: ${err instanceof Error ? err.message : String(err)}`;
      this.say(this.status.lastError);
    }
  }
}

const knownPath = (mr: Mailroom) => join(mr.layout.stateDir, 'known-states.json');

/** The last legal state of each task in a box, kept across restarts (hand-edit.ts). */
async function loadKnown(mr: Mailroom): Promise<Map<string, KnownState>> {
  try {
    const data = JSON.parse(await readFile(knownPath(mr), 'utf8')) as Record<string, KnownState>;
    return new Map(Object.entries(data));
  } catch {
    return new Map();
  }
}

/** Saves the known states when they changed since the last save (PassState.knownVersion). */
class KnownStates {
  private saved: number | undefined;
  constructor(private readonly mr: Mailroom) {}

  async save(state: PassState): Promise<void> {
    const version = state.knownVersion ?? 0;
    if (version === this.saved) return;
    await writeFileAtomic(knownPath(this.mr), JSON.stringify(Object.fromEntries(state.known)), {
      mkdir: true,
    });
    this.saved = version;
  }
}
