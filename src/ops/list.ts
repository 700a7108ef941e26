// `mailroom ls` and `show`: tasks as data for people and agents. Sorted urgent first, then oldest.

import { limitsOf } from '../config/limits.js';
import { parseDurationMs } from '../duration.js';
import { usageError } from '../errors.js';
import { type Mailroom, requireAgent } from '../mailroom.js';
import type { Problem } from '../problem.js';
import { type Box, isBox } from '../store/layout.js';
import { type LoadedTask, mapLimit, readTask, scanRefs, type TaskRef } from '../store/scan.js';
import { PRIORITY_RANK } from '../task/fields.js';
import { isoSeconds } from '../task/id.js';
import { STATES, type TaskState } from '../task/state.js';
import {
  type CachedFields,
  type CachedResult,
  cachedSummaries,
  fieldsOf,
  type MemoryCache,
} from './list-cache.js';
import { keepListing, keptListing, type ListingScope, listingMark } from './list-kept.js';

export interface ListFilter {
  agent?: string;
  /** One state, several (an array), or a comma-separated list. */
  state?: string | string[];
  box?: string;
  /** Only open tasks addressed to this agent in its inbox, in the order to work them (`ls --mine`). */
  mine?: string;
}

/** `--state queued,acked --state running` -> the states, checked. */
export function parseStates(state: string | string[] | undefined): TaskState[] | undefined {
  if (state === undefined) return undefined;
  const words = (Array.isArray(state) ? state : [state]).flatMap((s) => s.split(',')).map((s) => s.trim());
  for (const w of words)
    if (!(STATES as readonly string[]).includes(w))
      throw usageError(`invalid --state ${JSON.stringify(w)}`, `use one or more of ${STATES.join(', ')}`);
  return words as TaskState[];
}

/** When the supervisor acts on a task if nothing happens (docs/spec.md §3): ack or run deadline. */
export function deadlineOf(s: Pick<TaskSummary, 'state' | 'updated' | 'ack_timeout' | 'run_timeout'>) {
  const kind = s.state === 'queued' ? 'ack' : s.state === 'running' ? 'run' : undefined;
  if (kind === undefined) return null;
  const span = parseDurationMs(kind === 'ack' ? s.ack_timeout : s.run_timeout);
  const from = Date.parse(s.updated);
  if (span === undefined || Number.isNaN(from)) return null;
  return { kind, at: isoSeconds(new Date(from + span)) };
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
  // Written out rather than spread: `ls` builds 10,000 of these, mostly in the interpreter, where a
  // spread copies key by key. (`ls --json` lists the optional fields after `path`.)
  const s: TaskSummary = {
    id: ref.id,
    title: f.title,
    state: f.state as TaskState,
    priority: f.priority,
    from: f.from,
    to: f.to,
    created: f.created,
    updated: f.updated,
    attempt: f.attempt,
    max_attempts: f.max_attempts,
    ack_timeout: f.ack_timeout,
    run_timeout: f.run_timeout,
    agent: ref.agent,
    box: ref.box,
    path: mr.layout.rel(ref.path),
  };
  if (f.last_by !== undefined) s.last_by = f.last_by;
  if (f.kind !== undefined) s.kind = f.kind;
  if (f.escalated !== undefined) s.escalated = f.escalated;
  return s;
}

const rankOf = (s: TaskSummary) => PRIORITY_RANK[s.priority as keyof typeof PRIORITY_RANK] ?? 9;

export function byUrgencyThenAge(a: TaskSummary, b: TaskSummary): number {
  return compareKeys(rankOf(a), Date.parse(a.created), a.id, rankOf(b), Date.parse(b.created), b.id);
}

function compareKeys(pa: number, ta: number, ia: string, pb: number, tb: number, ib: string): number {
  if (pa !== pb) return pa - pb;
  // Instants, not strings: `created` may carry any RFC 3339 offset (docs/spec.md §2).
  const t = ta - tb;
  if (t !== 0 && !Number.isNaN(t)) return t < 0 ? -1 : 1;
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

/** Sorts `tasks` in place by byUrgencyThenAge (each rank and instant computed once) and returns it. */
export function sortByUrgencyThenAge(tasks: TaskSummary[]): TaskSummary[] {
  // Keys in typed arrays and an order of indexes: no object per task (`ls` sorts 10,000 of them,
  // and every object that lives through a collection is copied by it).
  const n = tasks.length;
  const rank = new Uint8Array(n);
  const at = new Float64Array(n);
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t = tasks[i]!;
    rank[i] = rankOf(t);
    at[i] = Date.parse(t.created);
    order[i] = i;
  }
  // compareKeys written out (a call less per comparison, 130,000 of them): an instant that does not
  // parse gives NaN, which is falsy, so the ids decide, as there.
  const ids = tasks.map((t) => t.id);
  order.sort(
    (a, b) => rank[a]! - rank[b]! || at[a]! - at[b]! || (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0),
  );
  const sorted = order.map((i) => tasks[i]!);
  for (let i = 0; i < n; i++) tasks[i] = sorted[i]!;
  return tasks;
}

export async function listTasks(
  mr: Mailroom,
  filter: ListFilter,
  cache: { memory?: MemoryCache } = {},
): Promise<{ tasks: TaskSummary[]; problems: Problem[] }> {
  if (filter.mine !== undefined) {
    const me = requireAgent(mr, filter.mine);
    const open = await listTasks(
      mr,
      { agent: me, box: 'inbox', state: ['queued', 'acked', 'running'] },
      cache,
    );
    return { ...open, tasks: open.tasks.filter((t) => t.to === me) };
  }
  if (filter.agent !== undefined) requireAgent(mr, filter.agent);
  const states = parseStates(filter.state);
  if (filter.box !== undefined && !isBox(filter.box)) {
    throw usageError(`invalid --box ${JSON.stringify(filter.box)}`, 'use inbox, outbox or archive');
  }
  const boxes: Box[] = filter.box ? [filter.box as Box] : ['inbox', 'outbox'];
  const scope = { ...(filter.agent !== undefined ? { agent: filter.agent } : {}), boxes };
  const found =
    (await keptListing(mr.layout, cache.memory, scope)) ?? (await listInFull(mr, scope, cache.memory));
  const problems = [...found.problems];
  // Filtered before a summary is built: `next` lists 500 tasks to find the few still queued.
  const summaries: TaskSummary[] = [];
  for (const r of found.results) {
    if ('fields' in r) {
      if (states === undefined || states.includes(r.fields.state as TaskState))
        summaries.push(fromFields(mr, r.ref, r.fields));
    } else if ('problem' in r) problems.push(r.problem);
  }
  return {
    tasks: sortByUrgencyThenAge(summaries),
    problems: problems.map((p) => ({ ...p, path: mr.layout.rel(p.path) })),
  };
}

/** Every file of `scope` checked against the ls cache (read where its stamp changed), and kept. */
async function listInFull(
  mr: Mailroom,
  scope: ListingScope,
  memory: MemoryCache | undefined,
): Promise<{ results: CachedResult[]; problems: Problem[] }> {
  const start = listingMark(memory);
  const { boxes } = scope;
  const { refs, problems } = await scanRefs(
    mr.layout,
    scope.agent ? { agents: [scope.agent], boxes } : { boxes },
  );
  // Which cache entries this listing speaks for (the others are kept as they are).
  const prefix = scope.agent ? `agents/${scope.agent}/` : 'agents/';
  const inScope = (rel: string): boolean => {
    if (!rel.startsWith(prefix)) return false;
    const slash = rel.indexOf('/', 7); // after "agents/<agent>"
    const box = rel.slice(slash + 1, rel.indexOf('/', slash + 1));
    return boxes.includes(box as Box);
  };
  const results = await cachedSummaries(
    mr.layout,
    refs,
    // Reads are synchronous calls (src/store/read-file.ts), so a cold listing of thousands of files
    // gives the event loop a turn every 64 files: a server (board, mcp) keeps answering meanwhile.
    (miss) =>
      mapLimit(miss, 32, async (r, i) => {
        if (i % 64 === 63) await new Promise<void>((resolve) => setImmediate(resolve));
        return readTask(r, limitsOf(mr.config).taskFile);
      }),
    inScope,
    undefined,
    memory,
    limitsOf(mr.config).taskFile,
  );
  keepListing(memory, scope, start, results, problems);
  return { results, problems };
}
