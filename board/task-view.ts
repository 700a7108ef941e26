// One task as the board's task view shows it: the fields, the request and the result apart, the
// history (the timeline), the error, and whom it could be reassigned to (its role mates first).

import type { Mailroom } from '../src/mailroom.js';
import { humanAgents } from '../src/ops/attention.js';
import { summarise, type TaskSummary } from '../src/ops/list.js';
import { loadTask } from '../src/store/tasks.js';
import { roleMates } from '../src/supervisor/roles.js';
import { splitResult } from '../src/task/result.js';
import type { HistoryEntry, TaskError } from '../src/task/schema.js';

export interface TaskView {
  summary: TaskSummary;
  body: string;
  result: string | null;
  history: HistoryEntry[];
  error: TaskError | null;
  deadlines: { ack_timeout: string; run_timeout: string };
  /** Agents to reassign to, best first: the same role, then the other workers. */
  suggestions: { name: string; why: string }[];
}

export function suggestions(mr: Mailroom, worker: string): TaskView['suggestions'] {
  const humans = humanAgents(mr);
  const mates = roleMates(mr.config.agents, worker);
  const role = mr.config.agents[worker]?.role;
  const others = Object.keys(mr.config.agents)
    .sort()
    .filter((a) => a !== worker && !mates.includes(a) && !humans.has(a));
  return [
    ...mates.map((name) => ({ name, why: `same role (${role})` })),
    ...others.map((name) => {
      const r = mr.config.agents[name]?.role;
      return { name, why: r ? `role ${r}` : 'no role' };
    }),
    ...[...humans].filter((h) => h !== worker).map((name) => ({ name, why: 'a person' })),
  ];
}

export async function taskView(mr: Mailroom, id: string): Promise<TaskView> {
  const t = await loadTask(mr, id);
  const task = t.parsed.task;
  const { request: body, result } = splitResult(t.parsed.file.body);
  return {
    summary: summarise(mr, t),
    body,
    result,
    history: task.history,
    error: task.error ?? null,
    deadlines: { ack_timeout: task.ack_timeout, run_timeout: task.run_timeout },
    suggestions: suggestions(mr, task.to),
  };
}
