// `mailroom status`: the global picture a person reads in five seconds — per agent, counts by state;
// what needs attention (stuck, escalated, unreadable) with its age; daemon health; hosts.
// Computed from a fresh scan (the truth) plus the daemon's own status file.

import { limitsOf } from '../config/limits.js';
import { pidAlive, readDaemonStatus } from '../daemon-status.js';
import type { Mailroom } from '../mailroom.js';
import { loadAll } from '../store/scan.js';
import { decide, isEscalated } from '../supervisor/decide.js';
import { policyFromConfig } from '../supervisor/policy.js';
import { loadQuarantine, type QuarantineEntry } from '../sync/quarantine.js';
import { loadSyncState } from '../sync/state.js';
import { STATES, type TaskState } from '../task/state.js';

export interface StatusReport {
  root: string;
  agents: { name: string; host: string; role: string | null; counts: Record<TaskState, number> }[];
  stuck: { id: string; agent: string; state: TaskState; title: string; reason: string; since: string }[];
  escalated: { id: string; agent: string; state: TaskState; title: string; reason: string; since: string }[];
  unreadable: { path: string; line?: number; reason: string }[];
  daemon: { running: boolean; pid?: number; lastPassAt?: string; passes?: number; lastError?: string };
  hosts: {
    name: string;
    ssh: string;
    root: string;
    lastSync: string | null;
    lagMs: number | null;
    error: string | null;
    /** Far tasks this host was not allowed to send: kept there, never routed (docs/spec.md §6). */
    quarantined: QuarantineEntry[];
  }[];
}

export async function statusReport(mr: Mailroom): Promise<StatusReport> {
  const agents = Object.keys(mr.config.agents).sort();
  const { tasks, problems } = await loadAll(mr.layout, {
    agents,
    boxes: ['inbox', 'outbox'],
    maxBytes: limitsOf(mr.config).taskFile,
  });
  const counts = new Map(
    agents.map((a) => [a, Object.fromEntries(STATES.map((s) => [s, 0])) as Record<TaskState, number>]),
  );
  for (const t of tasks) {
    const c = counts.get(t.agent);
    if (c) c[t.parsed.task.state]++;
  }
  const decision = decide(
    tasks.map((t) => ({ id: t.id, agent: t.agent, box: t.box, task: t.parsed.task })),
    policyFromConfig(mr.config),
    mr.now(),
  );
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const last = (id: string) =>
    byId.get(id)!.parsed.task.history.at(-1)?.at ?? byId.get(id)!.parsed.task.created;
  const stuck = decision.actions
    .filter((a) => a.kind !== 'retry' && !(a.kind === 'escalate' && a.cause === 'failed'))
    .map((a) => {
      const t = byId.get(a.id)!;
      return {
        id: a.id,
        agent: t.agent,
        state: t.parsed.task.state,
        title: t.parsed.task.title,
        reason: a.reason,
        since: last(a.id),
      };
    });
  const escalated = tasks
    .filter((t) => isEscalated(t.parsed.task))
    .map((t) => {
      const note =
        [...t.parsed.task.history].reverse().find((h) => h.note?.startsWith('escalated'))?.note ??
        'escalated';
      return {
        id: t.id,
        agent: t.agent,
        state: t.parsed.task.state,
        title: t.parsed.task.title,
        reason: note,
        since: String(t.parsed.task.escalated),
      };
    });
  let daemon: StatusReport['daemon'] = { running: false };
  const d = await readDaemonStatus(mr);
  if (d) {
    daemon = { running: d.state === 'running' && pidAlive(d.pid), pid: d.pid, passes: d.passes };
    if (d.lastPassAt) daemon.lastPassAt = d.lastPassAt;
    if (d.lastError) daemon.lastError = d.lastError;
  }
  return {
    root: mr.layout.root,
    agents: agents.map((name) => ({
      name,
      host: mr.config.agents[name]?.host ?? 'local',
      role: mr.config.agents[name]?.role ?? null,
      counts: counts.get(name)!,
    })),
    stuck,
    escalated,
    unreadable: problems.map((p) => ({ ...p, path: mr.layout.rel(p.path) })),
    daemon,
    hosts: await Promise.all(
      Object.entries(mr.config.hosts).map(async ([name, h]) => {
        const st = await loadSyncState(mr, name);
        const lastSync = st.lastSyncAt ?? null;
        return {
          name,
          ssh: h.ssh,
          root: h.root,
          lastSync,
          lagMs: lastSync ? mr.now().getTime() - Date.parse(lastSync) : null,
          // An error only matters if no pass succeeded after it.
          error: st.lastError && (!lastSync || (st.lastAttemptAt ?? '') >= lastSync) ? st.lastError : null,
          quarantined: await loadQuarantine(mr.layout, name),
        };
      }),
    ),
  };
}
