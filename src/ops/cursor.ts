// What is new in an agent's inbox since its last look (`mailroom wait`, the hooks, the MCP `wait`
// tool). Invariant: a change is reported once, never replayed: the cursor (`.mailroom/cursors/
// <agent>.json`, machine-local, per agent) records how many history entries of each inbox task the
// agent has been shown, and is advanced under its lock in the same step that reports. The agent's own
// moves (ack, start, progress) are never news to it: a task is reported only when its last history
// entry is by someone else (or when it has none: a file a person dropped in).

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { type Mailroom, requireAgent } from '../mailroom.js';
import { writeFileAtomic } from '../store/atomic.js';
import { type LoadedTask, loadAll, type ParseMemo } from '../store/scan.js';
import { isFinal } from '../task/state.js';
import { answerOf, isQuestion } from './ask.js';

export interface InboxChange {
  id: string;
  /** new: a task to work; result / answer: a finished task (or question) came back; changed: anything else. */
  change: 'new' | 'result' | 'answer' | 'changed';
  state: string;
  from: string;
  to: string;
  title: string;
  priority: string;
  path: string;
  /** The answer, for a question that came back done. */
  answer?: string;
}

/** id -> how many history entries the agent has been shown. */
export type Seen = Record<string, number>;

/** Pure: the changes to report and the cursor after reporting them. */
export function diffInbox(
  agent: string,
  seen: Seen,
  tasks: LoadedTask[],
): { changes: LoadedTask[]; next: Seen } {
  const next: Seen = {};
  const changes: LoadedTask[] = [];
  for (const t of tasks) {
    const history = t.parsed.task.history;
    next[t.id] = history.length;
    const before = seen[t.id];
    const grew = before === undefined || history.length > before;
    const last = history[history.length - 1];
    if (grew && (last === undefined || last.by !== agent)) changes.push(t);
  }
  return { changes, next };
}

export function describeChange(mr: Mailroom, t: LoadedTask, seen: Seen): InboxChange {
  const task = t.parsed.task;
  const final = isFinal(task.state);
  const change = final ? (isQuestion(t) ? 'answer' : 'result') : seen[t.id] === undefined ? 'new' : 'changed';
  const answer = change === 'answer' ? answerOf(t) : null;
  return {
    id: t.id,
    change,
    state: task.state,
    from: task.from,
    to: task.to,
    title: task.title,
    priority: task.priority,
    path: mr.layout.rel(t.path),
    ...(answer === null ? {} : { answer }),
  };
}

const cursorPath = (mr: Mailroom, agent: string) =>
  join(mr.layout.stateDir, 'cursors', `${requireAgent(mr, agent)}.json`);

async function readSeen(path: string): Promise<Seen> {
  try {
    const data = JSON.parse(await readFile(path, 'utf8')) as { version?: number; seen?: Seen };
    return data.version === 1 && data.seen && typeof data.seen === 'object' ? data.seen : {};
  } catch (err) {
    // Missing or damaged: everything open is news once more, which loses nothing.
    if (errnoCode(err) === 'ENOENT' || err instanceof SyntaxError) return {};
    throw err;
  }
}

/** What this process parsed of each agent's inbox: a waiter looks again and again (src/store/scan.ts). */
const memos = new Map<string, ParseMemo>();

/** Report what is new in the agent's inbox since its last look, and advance the cursor past it. */
export async function lookAtInbox(mr: Mailroom, agent: string): Promise<InboxChange[]> {
  const path = cursorPath(mr, agent);
  await mkdir(join(mr.layout.stateDir, 'cursors'), { recursive: true });
  return mr.locker(path, async (guard) => {
    const seen = await readSeen(path);
    // Every file is read on every look; only a file whose text changed is parsed again. The memo
    // keeps what this look saw, so it never outgrows the inbox.
    const key = `${mr.layout.root}\0${agent}`;
    const memo: ParseMemo = new Map();
    const old = memos.get(key);
    const { tasks } = await loadAll(mr.layout, {
      agents: [agent],
      boxes: ['inbox'],
      memo: old ?? memo,
    });
    for (const t of tasks) memo.set(t.path, t);
    memos.set(key, memo);
    const { changes, next } = diffInbox(agent, seen, tasks);
    if (changes.length === 0 && sameKeys(seen, next)) return [];
    guard.assertHeld();
    await writeFileAtomic(path, `${JSON.stringify({ version: 1, seen: next })}\n`);
    return changes.map((t) => describeChange(mr, t, seen));
  });
}

function sameKeys(a: Seen, b: Seen): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
