// `mailroom status`: the global picture a person reads in five seconds — per agent, counts by state
// and whether it is alive; what needs attention (questions, escalations, failed for good, stuck,
// unreadable files and refused edits the daemon reported, quarantined far files) with its age; daemon
// health; hosts. Computed from the listing (the ls cache: only changed files are read), the event log
// and the daemon's own status file. The board (board/) shows the same picture, built by `picture()`.

import type { HostConfig } from '../config/schema.js';
import { pidAlive, readDaemonStatus } from '../daemon-status.js';
import { readEvents } from '../events/log.js';
import type { Mailroom } from '../mailroom.js';
import type { Problem } from '../problem.js';
import { readSyncStatus } from '../sync/state.js';
import { STATES, type TaskState } from '../task/state.js';
import {
  type AgentSignals,
  type AgentView,
  agentViews,
  foldAgentSignals,
  type NeedItem,
  needsYou,
} from './attention.js';
import { listTasks, type TaskSummary } from './list.js';
import type { MemoryCache } from './list-cache.js';
import { foldReports, type OpenReport } from './reported.js';

interface Attention {
  id: string;
  agent: string;
  state: TaskState;
  title: string;
  reason: string;
  since: string;
}

export interface HostView {
  name: string;
  ssh: string;
  root: string;
  /** How the hub reaches it: the far mailroom agent or SFTP alone (what the last pass used, else a guess from config). */
  transport: 'agent' | 'sftp';
  /** What the last pass said about it: `far agent`, or `SFTP (why it fell back)`; null before any pass. */
  via: string | null;
  lastSync: string | null;
  lagMs: number | null;
  error: string | null;
}

export interface StatusReport {
  root: string;
  agents: (Omit<AgentView, 'name'> & { name: string; counts: Record<TaskState, number> })[];
  /** Everything that needs a person, oldest first; `status --check` exits 1 when it is not empty. */
  needsYou: NeedItem[];
  stuck: Attention[];
  escalated: Attention[];
  unreadable: { path: string; line?: number; reason: string; kind: string; since?: string }[];
  daemon: { running: boolean; pid?: number; lastPassAt?: string; passes?: number; lastError?: string };
  hosts: HostView[];
}

export async function hostViews(mr: Mailroom, signals?: AgentSignals): Promise<HostView[]> {
  return Promise.all(
    Object.entries(mr.config.hosts).map(async ([name, h]) => {
      const st = await readSyncStatus(mr, name);
      const lastSync = st.lastSyncAt ?? null;
      // A failure to connect is only in the event log: it counts if no pass succeeded since.
      const failed = signals?.syncFailed.get(name);
      if (failed && (!lastSync || failed.at > lastSync) && (signals?.synced.get(name) ?? '') <= failed.at)
        return { ...base(name, h, mr, lastSync, st.lastTransport), error: failed.reason };
      return {
        ...base(name, h, mr, lastSync, st.lastTransport),
        // An error only matters if no pass succeeded after it.
        error: st.lastError && (!lastSync || (st.lastAttemptAt ?? '') >= lastSync) ? st.lastError : null,
      };
    }),
  );
}

function base(name: string, h: HostConfig, mr: Mailroom, lastSync: string | null, via: string | undefined) {
  const guess = h.mailroom ? ('agent' as const) : ('sftp' as const);
  return {
    name,
    ssh: h.ssh,
    root: h.root,
    transport:
      via === undefined ? guess : via.startsWith('far agent') ? ('agent' as const) : ('sftp' as const),
    via: via ?? null,
    lastSync,
    lagMs: lastSync ? mr.now().getTime() - Date.parse(lastSync) : null,
  };
}

export async function daemonView(mr: Mailroom): Promise<StatusReport['daemon']> {
  const d = await readDaemonStatus(mr);
  if (!d) return { running: false };
  const out: StatusReport['daemon'] = {
    running: d.state === 'running' && pidAlive(d.pid),
    pid: d.pid,
    passes: d.passes,
  };
  if (d.lastPassAt) out.lastPassAt = d.lastPassAt;
  if (d.lastError) out.lastError = d.lastError;
  return out;
}

/** The live tasks, what needs a person and how the agents are: shared by `status` and the board. */
export interface Picture {
  tasks: TaskSummary[];
  problems: Problem[];
  needs: NeedItem[];
  agents: AgentView[];
}

export async function picture(
  mr: Mailroom,
  reports: readonly OpenReport[],
  signals: AgentSignals,
  memory?: MemoryCache,
): Promise<Picture> {
  const { tasks, problems } = await listTasks(mr, {}, memory ? { memory } : {});
  const needs = await needsYou(mr, tasks, problems, reports);
  return { tasks, problems, needs, agents: agentViews(mr, tasks, signals, needs) };
}

function countsOf(tasks: readonly TaskSummary[], agent: string): Record<TaskState, number> {
  const c = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<TaskState, number>;
  for (const t of tasks) if (t.agent === agent) c[t.state]++;
  return c;
}

const asAttention = (n: NeedItem): Attention => ({
  id: n.id ?? '',
  agent: n.agent ?? '',
  state: n.state ?? 'queued',
  title: n.title ?? '',
  reason: n.why,
  since: n.since ?? '',
});

export async function statusReport(mr: Mailroom): Promise<StatusReport> {
  const events = await readEvents(mr.layout.eventsPath);
  const signals = foldAgentSignals(events);
  const p = await picture(mr, [...foldReports(events).values()], signals);
  const fileKinds = new Set(['unreadable', 'refused-folder', 'quarantined']);
  return {
    root: mr.layout.root,
    agents: p.agents.map((a) => ({ ...a, counts: countsOf(p.tasks, a.name) })),
    needsYou: p.needs,
    stuck: p.needs.filter((n) => n.kind === 'stuck' || n.kind === 'failed').map(asAttention),
    escalated: p.needs.filter((n) => n.kind === 'escalated').map(asAttention),
    unreadable: p.needs
      .filter((n) => fileKinds.has(n.kind))
      .map((n) => ({
        path: n.path,
        reason: n.why,
        kind: n.kind,
        ...(n.since === undefined ? {} : { since: n.since }),
      })),
    daemon: await daemonView(mr),
    hosts: await hostViews(mr, signals),
  };
}
