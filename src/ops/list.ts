// `mailroom ls` and `show`: tasks as data for people and agents. Sorted urgent first, then oldest.

import { limitsOf } from '../config/limits.js';
import { usageError } from '../errors.js';
import { type Mailroom, requireAgent } from '../mailroom.js';
import { type Box, isBox } from '../store/layout.js';
import { type LoadedTask, mapLimit, type Problem, readTask, scanRefs, type TaskRef } from '../store/scan.js';
import { PRIORITY_RANK } from '../task/schema.js';
import { STATES, type TaskState } from '../task/state.js';
import { type CachedFields, cachedSummaries, fieldsOf } from './list-cache.js';

export interface ListFilter {
  agent?: string;
  state?: string;
  box?: string;
}

/** The fields `ls` shows (list-cache.ts keeps them per file), and where the task is. */
export interface TaskSummary extends Omit<CachedFields, 'state'> {
  id: string;
  state: TaskState;
  agent: string;
  box: Box;
  path: string;
}

export function summarise(mr: Mailroom, t: LoadedTask): TaskSummary {
  return fromFields(mr, t, fieldsOf(t));
}

function fromFields(mr: Mailroom, ref: TaskRef, f: CachedFields): TaskSummary {
  return {
    id: ref.id,
    ...f,
    state: f.state as TaskState,
    agent: ref.agent,
    box: ref.box,
    path: mr.layout.rel(ref.path),
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
  const { refs, problems } = await scanRefs(mr.layout, opts);
  // Which cache entries this listing speaks for (the others are kept as they are).
  const prefix = filter.agent ? `agents/${filter.agent}/` : 'agents/';
  const scope = (rel: string): boolean => {
    if (!rel.startsWith(prefix)) return false;
    const slash = rel.indexOf('/', 7); // after "agents/<agent>"
    const box = rel.slice(slash + 1, rel.indexOf('/', slash + 1));
    return boxes.includes(box as Box);
  };
  const results = await cachedSummaries(
    mr.layout,
    refs,
    (miss) => mapLimit(miss, 32, (r) => readTask(r, limitsOf(mr.config).taskFile)),
    scope,
  );
  const summaries: TaskSummary[] = [];
  for (const r of results) {
    if ('fields' in r) summaries.push(fromFields(mr, r.ref, r.fields));
    else if ('problem' in r) problems.push(r.problem);
  }
  return {
    tasks: summaries
      .filter((s) => filter.state === undefined || s.state === filter.state)
      .sort(byUrgencyThenAge),
    problems: problems.map((p) => ({ ...p, path: mr.layout.rel(p.path) })),
  };
}
