// What needs a person now ("Needs you" on the board, "needs attention" in `status`), and how each
// agent is doing. Both are computed from the listing (src/ops/list.ts, served from the ls cache), the
// daemon's open reports (src/ops/reported.ts) and the event log; nothing here is remembered between
// calls, so an item that was resolved (answered, retried, reassigned, finished, archived, fixed)
// leaves by itself on the next look.
//
// The supervisor's judgement (src/supervisor/decide.ts) stays the one judge of "stuck" and "failed
// for good": the summaries only pick the candidates worth reading in full (a task past its deadline
// by its summary, or failed), so 10,000 quiet tasks cost no reads.

import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDurationMs } from '../duration.js';
import type { MailroomEvent } from '../events/log.js';
import type { Mailroom } from '../mailroom.js';
import type { Problem } from '../problem.js';
import { mapLimit, readTask } from '../store/scan.js';
import { decide } from '../supervisor/decide.js';
import { policyFromConfig } from '../supervisor/policy.js';
import { isFinal, type TaskState } from '../task/state.js';
import type { TaskSummary } from './list.js';
import type { OpenReport } from './reported.js';

export type NeedKind =
  | 'question'
  | 'escalated'
  | 'failed'
  | 'stuck'
  | 'unreadable'
  | 'refused-folder'
  | 'quarantined';

/** The verbs a person can apply to an item (each is an op in src/ops/, the same as the CLI's). */
export type NeedAction = 'answer' | 'retry' | 'reassign' | 'archive' | 'note';

export interface NeedItem {
  kind: NeedKind;
  why: string;
  /** ISO time the item started needing someone; absent when nothing says (a file found bad by a listing). */
  since?: string;
  id?: string;
  title?: string;
  /** The folder holding it, and the worker it is addressed to. */
  agent?: string;
  to?: string;
  state?: TaskState;
  path: string;
  actions: NeedAction[];
}

/** The agents that stand for people: the escalation agent, and `human` when configured. */
export function humanAgents(mr: Mailroom): Set<string> {
  const names = new Set([mr.config.escalate_to]);
  if ('human' in mr.config.agents) names.add('human');
  return names;
}

/** An escalation is open until the task is done (answered or finished) or leaves the live boxes. */
const openEscalation = (t: TaskSummary) => t.escalated !== undefined && t.state !== 'done';

const isQuestion = (t: TaskSummary, humans: Set<string>) =>
  t.kind === 'question' && humans.has(t.to) && t.agent === t.to && t.box === 'inbox' && !isFinal(t.state);

function taskActions(t: TaskSummary): NeedAction[] {
  if (t.state === 'failed') return ['retry', 'archive', 'note'];
  if (t.state === 'done') return ['archive', 'note'];
  return ['reassign', 'note'];
}

function fromTask(t: TaskSummary, kind: NeedKind, why: string, since: string): NeedItem {
  const actions: NeedAction[] = kind === 'question' ? ['answer', 'reassign', 'note'] : taskActions(t);
  const { id, title, agent, to, state, path } = t;
  return { kind, why, since, id, title, agent, to, state, path, actions };
}

/** Past its ack or run deadline by its summary, or failed: worth a full read for the supervisor. */
function candidate(t: TaskSummary, nowMs: number): boolean {
  if (t.escalated !== undefined || t.box === 'archive') return false;
  if (t.state === 'failed') return true;
  const timeout = t.state === 'queued' ? t.ack_timeout : t.state === 'running' ? t.run_timeout : undefined;
  const ms = timeout === undefined ? undefined : parseDurationMs(timeout);
  return ms !== undefined && Date.parse(t.updated) + ms < nowMs;
}

/** Stuck and failed-for-good tasks: the supervisor's own verdict over the candidates, read in full. */
async function judged(mr: Mailroom, tasks: readonly TaskSummary[]): Promise<NeedItem[]> {
  const now = mr.now();
  const picked = tasks.filter((t) => candidate(t, now.getTime()));
  const reads = await mapLimit(picked, 16, (t) =>
    readTask({ agent: t.agent, box: t.box, id: t.id, path: join(mr.layout.root, t.path) }),
  );
  const full = reads.flatMap((r) => (r.ok ? [r.task] : []));
  const decision = decide(
    full.map((t) => ({ id: t.id, agent: t.agent, box: t.box, task: t.parsed.task })),
    policyFromConfig(mr.config),
    now,
  );
  const byId = new Map(picked.map((t) => [t.id, t]));
  const items: NeedItem[] = [];
  for (const a of decision.actions) {
    const t = byId.get(a.id);
    if (!t || a.kind === 'retry') continue; // a retry is the daemon's to make, not a person's
    const failedForGood = a.kind === 'escalate' && a.cause === 'failed';
    items.push(fromTask(t, failedForGood ? 'failed' : 'stuck', a.reason, t.updated));
  }
  return items;
}

/** A reported file that is gone needs nobody (the daemon reports "gone" only while it runs). */
async function stillThere(mr: Mailroom, rel: string): Promise<boolean> {
  return lstat(join(mr.layout.root, rel)).then(
    () => true,
    () => false,
  );
}

async function fromReports(
  mr: Mailroom,
  problems: readonly Problem[],
  reports: readonly OpenReport[],
): Promise<NeedItem[]> {
  const items = new Map<string, NeedItem>();
  for (const p of problems) {
    const why = p.line === undefined ? p.reason : `line ${p.line}: ${p.reason}`;
    items.set(p.path, { kind: 'unreadable', why, path: p.path, actions: [] });
  }
  for (const r of reports) {
    if (r.kind !== 'quarantined' && !(await stillThere(mr, r.path))) continue;
    const why = r.line === undefined ? r.reason : `line ${r.line}: ${r.reason}`;
    const item: NeedItem = { kind: r.kind, why, since: r.since, path: r.path, actions: [] };
    if (r.id !== undefined) item.id = r.id;
    items.set(r.path, item);
  }
  return [...items.values()];
}

/** Everything that needs a person, oldest first (items with no known start last). */
export async function needsYou(
  mr: Mailroom,
  tasks: readonly TaskSummary[],
  problems: readonly Problem[],
  reports: readonly OpenReport[],
): Promise<NeedItem[]> {
  const humans = humanAgents(mr);
  const items: NeedItem[] = [];
  const seen = new Set<string>();
  for (const t of tasks) {
    if (isQuestion(t, humans)) {
      items.push(fromTask(t, 'question', `${t.from} asks`, t.created));
      seen.add(t.id);
    } else if (openEscalation(t)) {
      items.push(fromTask(t, 'escalated', escalationWhy(t), t.escalated ?? t.updated));
      seen.add(t.id);
    }
  }
  await withEscalationNotes(mr, items);
  for (const item of await judged(mr, tasks)) if (!seen.has(item.id ?? '')) items.push(item);
  items.push(...(await fromReports(mr, problems, reports)));
  return items.sort((a, b) => (a.since ?? '~').localeCompare(b.since ?? '~'));
}

/** An escalation says why in its history note (`escalated to human: ...`): read the few escalated files for it. */
async function withEscalationNotes(mr: Mailroom, items: NeedItem[]): Promise<void> {
  const escalated = items.filter((i) => i.kind === 'escalated' && i.id && i.agent);
  await mapLimit(escalated, 8, async (item) => {
    const r = await readTask({
      agent: item.agent!,
      box: item.path.includes('/outbox/') ? 'outbox' : 'inbox',
      id: item.id!,
      path: join(mr.layout.root, item.path),
    });
    const note = r.ok
      ? r.task.parsed.task.history.findLast((h) => h.note?.startsWith('escalated'))?.note
      : undefined;
    if (note) item.why = note;
  });
}

function escalationWhy(t: TaskSummary): string {
  return t.state === 'failed'
    ? `failed on attempt ${t.attempt} of ${t.max_attempts}; escalated`
    : `escalated while ${t.state}`;
}

export type Liveness = 'working' | 'idle' | 'down' | 'person';

export interface AgentView {
  name: string;
  host: string;
  role: string | null;
  state: Liveness;
  /** The task it is on (running, else acked), if any. */
  current?: { id: string; title: string; state: TaskState };
  /** Queued tasks waiting in its inbox. */
  queue: number;
  /** The last moment it did something: a history entry or an event by it. */
  lastSeen?: string;
  /** Why it is taken for down. */
  downWhy?: string;
}

/**
 * Signs of life folded from the event log: per agent, the last event by it and the last
 * `worker.down`; per host, the last sync pass and the last failure (a failure to connect is only
 * in the log, never in the host's sync state).
 */
export interface AgentSignals {
  seen: Map<string, string>;
  down: Map<string, string>;
  synced: Map<string, string>;
  syncFailed: Map<string, { at: string; reason: string }>;
}

export const noSignals = (): AgentSignals => ({
  seen: new Map(),
  down: new Map(),
  synced: new Map(),
  syncFailed: new Map(),
});

export function foldAgentSignals(events: readonly MailroomEvent[], into?: AgentSignals): AgentSignals {
  const s = into ?? noSignals();
  const later = (m: Map<string, string>, k: string, at: string) => {
    if ((m.get(k) ?? '') < at) m.set(k, at);
  };
  for (const e of events) {
    const host = typeof e.host === 'string' ? e.host : undefined;
    if (e.type === 'worker.down' && typeof e.agent === 'string') later(s.down, e.agent, e.at);
    else if (e.type === 'sync.pass' && host) later(s.synced, host, e.at);
    else if (e.type === 'sync.failed' && host)
      s.syncFailed.set(host, { at: e.at, reason: typeof e.reason === 'string' ? e.reason : 'sync failed' });
    else if (typeof e.by === 'string' && e.by !== 'mailroom') later(s.seen, e.by, e.at);
  }
  return s;
}

/** Why the host cannot be reached, when its last sync failure came after its last sync pass. */
function hostUnreachable(signals: AgentSignals, host: string): string | undefined {
  const failed = signals.syncFailed.get(host);
  return failed && failed.at >= (signals.synced.get(host) ?? '') ? failed.reason : undefined;
}

export function agentViews(
  mr: Mailroom,
  tasks: readonly TaskSummary[],
  signals: AgentSignals,
  needs: readonly NeedItem[],
): AgentView[] {
  const humans = humanAgents(mr);
  const stuckOn = new Map<string, string>();
  for (const n of needs)
    if (n.kind === 'stuck' && n.state === 'queued' && n.agent) stuckOn.set(n.agent, n.why);
  return Object.keys(mr.config.agents)
    .sort()
    .map((name) => {
      const mine = tasks.filter((t) => t.agent === name && t.to === name && t.box === 'inbox');
      const current = mine.find((t) => t.state === 'running') ?? mine.find((t) => t.state === 'acked');
      let lastSeen = signals.seen.get(name);
      for (const t of tasks) if (t.last_by === name && (lastSeen ?? '') < t.updated) lastSeen = t.updated;
      const downAt = signals.down.get(name);
      const view: AgentView = {
        name,
        host: mr.config.agents[name]?.host ?? 'local',
        role: mr.config.agents[name]?.role ?? null,
        state: 'idle',
        queue: mine.filter((t) => t.state === 'queued').length,
      };
      if (lastSeen) view.lastSeen = lastSeen;
      if (current) view.current = { id: current.id, title: current.title, state: current.state };
      const unreachable = hostUnreachable(signals, view.host);
      if (humans.has(name)) view.state = 'person';
      else if (unreachable) [view.state, view.downWhy] = ['down', `host ${view.host}: ${unreachable}`];
      else if (stuckOn.has(name)) [view.state, view.downWhy] = ['down', stuckOn.get(name)!];
      else if (downAt && (!lastSeen || downAt > lastSeen))
        [view.state, view.downWhy] = ['down', `presumed down at ${downAt}; nothing from it since`];
      else if (current) view.state = 'working';
      return view;
    });
}
