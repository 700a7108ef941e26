// What the board shows, kept current: the picture `status` computes (src/ops/status.ts: the listing
// from the ls cache, what needs a person, the agents), the hosts and the daemon, plus the reports and
// agent signals folded from the event log as it grows. A change hint only marks the model stale; the
// next read rebuilds it from disk (events are hints, scans are truth), at most one rebuild at a time.

import { createHash } from 'node:crypto';
import type { Config } from '../src/config/schema.js';
import { EventTail } from '../src/events/tail.js';
import { type Mailroom, openMailroom } from '../src/mailroom.js';
import { type AgentSignals, foldAgentSignals, humanAgents, noSignals } from '../src/ops/attention.js';
import type { TaskSummary } from '../src/ops/list.js';
import type { MemoryCache } from '../src/ops/list-cache.js';
import { foldReports, type OpenReport } from '../src/ops/reported.js';
import { daemonView, hostViews, type Picture, picture, type StatusReport } from '../src/ops/status.js';
import { STATES, type TaskState } from '../src/task/state.js';

export interface Snapshot {
  version: string;
  at: string;
  root: string;
  /** The agent the board acts as. */
  me: string;
  humans: string[];
  agentNames: { name: string; role: string | null; host: string }[];
  needs: Picture['needs'];
  agents: Picture['agents'];
  counts: Record<TaskState, number>;
  hosts: StatusReport['hosts'];
  daemon: StatusReport['daemon'];
}

export interface TaskQuery {
  agent?: string;
  text?: string;
  /** Rows per state column. */
  limit: number;
}

export class BoardModel {
  private readonly tail: EventTail;
  private reports = new Map<string, OpenReport>();
  private signals: AgentSignals = noSignals();
  private current?: { snapshot: Snapshot; tasks: TaskSummary[] };
  private building?: Promise<{ snapshot: Snapshot; tasks: TaskSummary[] }>;
  private stale = true;
  /** The ls cache, kept in memory after the first listing (src/ops/list-cache.ts). */
  private readonly cache: MemoryCache = {};
  private configStale = false;

  constructor(
    public mr: Mailroom,
    private readonly me: string,
  ) {
    this.tail = new EventTail(mr.layout.eventsPath);
  }

  /** Something may have changed; `config` when mailroom.yaml did. */
  invalidate(opts: { config?: boolean } = {}): void {
    this.stale = true;
    if (opts.config) this.configStale = true;
  }

  async snapshot(): Promise<Snapshot> {
    return (await this.fresh()).snapshot;
  }

  /** Tasks by state, filtered by agent and text, the first `limit` of each state (urgent, then oldest). */
  async tasks(q: TaskQuery): Promise<Record<TaskState, { total: number; items: TaskSummary[] }>> {
    const { tasks } = await this.fresh();
    const text = q.text?.trim().toLowerCase();
    const out = Object.fromEntries(STATES.map((s) => [s, { total: 0, items: [] as TaskSummary[] }]));
    for (const t of tasks) {
      if (q.agent && t.agent !== q.agent && t.to !== q.agent && t.from !== q.agent) continue;
      if (text && !`${t.id} ${t.title}`.toLowerCase().includes(text)) continue;
      const col = out[t.state]!;
      col.total++;
      if (col.items.length < q.limit) col.items.push(t);
    }
    return out as Record<TaskState, { total: number; items: TaskSummary[] }>;
  }

  private async fresh(): Promise<{ snapshot: Snapshot; tasks: TaskSummary[] }> {
    if (this.current && !this.stale) return this.current;
    // One rebuild at a time; a hint during a rebuild makes the next read rebuild again.
    this.building ??= this.build().finally(() => {
      this.building = undefined;
    });
    return this.building;
  }

  private async build(): Promise<{ snapshot: Snapshot; tasks: TaskSummary[] }> {
    this.stale = false;
    if (this.configStale) {
      this.configStale = false;
      this.mr = await openMailroom(this.mr.layout.root).catch(() => this.mr); // a half-saved config: keep the last
    }
    const events = await this.tail.read();
    if (this.tail.restarted) {
      this.reports = new Map();
      this.signals = noSignals();
    }
    foldReports(events, this.reports);
    foldAgentSignals(events, this.signals);
    const mr = this.mr;
    const p = await picture(mr, [...this.reports.values()], this.signals, this.cache);
    const counts = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<TaskState, number>;
    for (const t of p.tasks) counts[t.state]++;
    const body = {
      root: mr.layout.root,
      me: this.me,
      humans: [...humanAgents(mr)],
      agentNames: agentNames(mr.config),
      needs: p.needs,
      agents: p.agents,
      counts,
      hosts: await hostViews(mr, this.signals),
      daemon: await daemonView(mr),
    };
    // The version names the content (not the moment): the page refetches only when something changed.
    const version = createHash('sha256')
      .update(JSON.stringify(body))
      .update(p.tasks.map((t) => `${t.path}\0${t.state}\0${t.updated}\0${t.title}`).join('\n'))
      .digest('hex')
      .slice(0, 16);
    this.current = { snapshot: { version, at: mr.now().toISOString(), ...body }, tasks: p.tasks };
    return this.current;
  }
}

function agentNames(config: Config): Snapshot['agentNames'] {
  return Object.keys(config.agents)
    .sort()
    .map((name) => ({
      name,
      role: config.agents[name]?.role ?? null,
      host: config.agents[name]?.host ?? 'local',
    }));
}
