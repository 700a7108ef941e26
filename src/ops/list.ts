// `mailroom ls` and `show`: tasks as data for people and agents. Sorted urgent first, then oldest.

import { usageError } from '../errors.js';
import { type Mailroom, requireAgent } from '../mailroom.js';
import { type Box, isBox } from '../store/layout.js';
import { type LoadedTask, loadAll, type Problem } from '../store/scan.js';
import { PRIORITY_RANK } from '../task/schema.js';
import { STATES, type TaskState } from '../task/state.js';

export interface ListFilter {
  agent?: string;
  state?: string;
  box?: string;
}

export interface TaskSummary {
  id: string;
  title: string;
  state: TaskState;
  priority: string;
  from: string;
  to: string;
  created: string;
  updated: string;
  attempt: number;
  max_attempts: number;
  agent: string;
  box: Box;
  path: string;
}

export function summarise(mr: Mailroom, t: LoadedTask): TaskSummary {
  const task = t.parsed.task;
  return {
    id: t.id,
    title: task.title,
    state: task.state,
    priority: task.priority,
    from: task.from,
    to: task.to,
    created: task.created,
    updated: task.history[task.history.length - 1]?.at ?? task.created,
    attempt: task.attempt,
    max_attempts: task.max_attempts,
    agent: t.agent,
    box: t.box,
    path: mr.layout.rel(t.path),
  };
}

export function byUrgencyThenAge(a: TaskSummary, b: TaskSummary): number {
  const p =
    (PRIORITY_RANK[a.priority as keyof typeof PRIORITY_RANK] ?? 9) -
    (PRIORITY_RANK[b.priority as keyof typeof PRIORITY_RANK] ?? 9);
  if (p !== 0) return p;
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export async function listTasks(
  mr: Mailroom,
  filter: ListFilter,
): Promise<{ tasks: TaskSummary[]; problems: Problem[] }> {
  if (filter.agent !== undefined) requireAgent(mr, filter.agent);
  if (filter.state !== undefined && !(STATES as readonly string[]).includes(filter.state)) {
    throw usageError(`invalid --state ${JSON.stringify(filter.state)}`, `use one of ${STATES.join(', ')}`);
  }
  if (filter.box !== undefined && !isBox(filter.box)) {
    throw usageError(`invalid --box ${JSON.stringify(filter.box)}`, 'use inbox, outbox or archive');
  }
  const boxes: Box[] = filter.box ? [filter.box as Box] : ['inbox', 'outbox'];
  const opts = filter.agent ? { agents: [filter.agent], boxes } : { boxes };
  const { tasks, problems } = await loadAll(mr.layout, opts);
  const summaries = tasks
    .map((t) => summarise(mr, t))
    .filter((s) => filter.state === undefined || s.state === filter.state)
    .sort(byUrgencyThenAge);
  return { tasks: summaries, problems: problems.map((p) => ({ ...p, path: mr.layout.rel(p.path) })) };
}
