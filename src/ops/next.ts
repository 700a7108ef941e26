// `mailroom next`: claim the best open task of an agent (docs/spec.md §4). Invariant: a task is
// claimed by moving it `queued -> acked` under its lock, with the precondition checked under that
// lock, so of any number of concurrent callers exactly one gets each task; the others move on to
// the next candidate. Candidates come from a listing (urgent first, then oldest); the lock is the judge.

import { MailroomError } from '../errors.js';
import { type Mailroom, requireAgent } from '../mailroom.js';
import type { UpdateResult } from '../store/tasks.js';
import { transition } from './lifecycle.js';
import { listTasks } from './list.js';
import { type MemoryCache, rememberWritten } from './list-cache.js';

/**
 * The claimed task, or undefined when the agent has nothing queued. A long-running caller (`mailroom
 * mcp`) passes its in-memory ls cache: the candidates then cost a stat per file, and the claim itself
 * still reads the file under its lock (the cache only picks candidates; the lock is the judge).
 */
export async function claimNext(
  mr: Mailroom,
  agent: string,
  cache: { memory?: MemoryCache } = {},
): Promise<UpdateResult | undefined> {
  requireAgent(mr, agent);
  // A second round covers a candidate list that went stale while this caller lost races.
  for (let round = 0; round < 2; round++) {
    const { tasks } = await listTasks(mr, { agent, box: 'inbox', state: 'queued' }, cache);
    const candidates = tasks.filter((t) => t.to === agent);
    if (candidates.length === 0) return undefined;
    for (const c of candidates) {
      const ref = { agent: c.agent, box: c.box, id: c.id, path: mr.layout.taskPath(c.agent, c.box, c.id) };
      try {
        const claimed = await transition(mr, ref, 'acked', {
          as: agent,
          note: 'claimed with next',
          onlyIf: (t) => t.parsed.task.state === 'queued' && t.agent === agent && t.box === 'inbox',
        });
        rememberWritten(cache.memory, claimed.after, claimed.afterStamp);
        return claimed;
      } catch (err) {
        // Someone else claimed, moved or reassigned it first: the next candidate.
        if (err instanceof MailroomError && (err.kind === 'refused' || err.kind === 'notFound')) continue;
        throw err;
      }
    }
  }
  return undefined;
}
