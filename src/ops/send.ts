// `mailroom send`: a new task in a worker's inbox.

import { livesElsewhere, livesHere } from '../config/where.js';
import { checkDuration } from '../duration.js';
import { usageError } from '../errors.js';
import { type Mailroom, requireAgent } from '../mailroom.js';
import { createTaskFile, TargetExistsError } from '../store/tasks.js';
import { PRIORITIES, type Priority } from '../task/fields.js';
import { isoSeconds, newTaskId } from '../task/id.js';
import { renderTask } from '../task/render.js';

export interface SendInput {
  to: string;
  title: string;
  body?: string;
  from: string;
  priority?: string;
  ackTimeout?: string;
  runTimeout?: string;
  maxAttempts?: number;
  /** `question` for `mailroom ask` (docs/spec.md §2). */
  kind?: 'question';
}

export interface Sent {
  id: string;
  path: string;
  /** Set when the recipient lives on another machine: the task waits in the sender's outbox. */
  queuedIn?: string;
}

/**
 * Where a new task is written (docs/spec.md §6): the recipient's inbox, or, when the recipient lives
 * elsewhere, the sender's outbox (sync carries it, the recipient's daemon delivers it).
 */
function destination(mr: Mailroom, from: string, to: string): { agent: string; box: 'inbox' | 'outbox' } {
  if (!livesElsewhere(mr.config, to)) return { agent: to, box: 'inbox' };
  if (!livesHere(mr.config, from))
    throw usageError(
      `${from} does not live on this machine, so it cannot send to ${to}, which lives elsewhere`,
      `send as an agent of this machine (--as), or send from the machine where ${from} lives`,
    );
  return { agent: from, box: 'outbox' };
}

export async function sendTask(mr: Mailroom, input: SendInput): Promise<Sent> {
  requireAgent(mr, input.to);
  requireAgent(mr, input.from);
  const dest = destination(mr, input.from, input.to);
  const title = input.title.trim();
  if (!title || /[\r\n]/.test(title))
    throw usageError('the title must be one non-empty line', 'put details in --body');
  const priority = (input.priority ?? 'normal') as Priority;
  if (!PRIORITIES.includes(priority)) {
    throw usageError(
      `invalid priority ${JSON.stringify(input.priority)}`,
      `use one of ${PRIORITIES.join(', ')}`,
    );
  }
  if (input.maxAttempts !== undefined && (!Number.isInteger(input.maxAttempts) || input.maxAttempts < 1)) {
    throw usageError(`invalid --max-attempts ${input.maxAttempts}`, 'give a whole number, 1 or more');
  }
  const now = mr.now();
  const at = isoSeconds(now);
  for (let i = 0; i < 10; i++) {
    const id = newTaskId(now);
    const text = renderTask(
      {
        id,
        title,
        from: input.from,
        to: input.to,
        state: 'queued',
        priority,
        created: at,
        attempt: 1,
        max_attempts: input.maxAttempts ?? 3,
        ack_timeout: checkDuration(input.ackTimeout ?? '5m', '--ack-timeout'),
        run_timeout: checkDuration(input.runTimeout ?? '30m', '--run-timeout'),
        history: [{ state: 'queued', at, by: input.from }],
        ...(input.kind === undefined ? {} : { kind: input.kind }),
      },
      input.body ?? '',
    );
    try {
      const path = await createTaskFile(mr, dest.agent, dest.box, id, text);
      await mr.log({
        type: 'task.created',
        id,
        agent: dest.agent,
        from: input.from,
        to: input.to,
        by: input.from,
        priority,
        ...(input.kind === undefined ? {} : { kind: input.kind }),
      });
      return dest.box === 'outbox' ? { id, path, queuedIn: `${dest.agent}/outbox` } : { id, path };
    } catch (err) {
      if (!(err instanceof TargetExistsError)) throw err; // same id this second: draw another
    }
  }
  throw new Error('could not find a free task id after 10 tries');
}
