// `mailroom send`: a new task in a worker's inbox.

import { checkDuration } from '../duration.js';
import { usageError } from '../errors.js';
import { type Mailroom, requireAgent } from '../mailroom.js';
import { createTaskFile, TargetExistsError } from '../store/tasks.js';
import { isoSeconds, newTaskId } from '../task/id.js';
import { renderTask } from '../task/render.js';
import { PRIORITIES, type Priority } from '../task/schema.js';

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

export async function sendTask(mr: Mailroom, input: SendInput): Promise<{ id: string; path: string }> {
  requireAgent(mr, input.to);
  requireAgent(mr, input.from);
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
      const path = await createTaskFile(mr, input.to, 'inbox', id, text);
      await mr.log({
        type: 'task.created',
        id,
        agent: input.to,
        from: input.from,
        to: input.to,
        by: input.from,
        priority,
        ...(input.kind === undefined ? {} : { kind: input.kind }),
      });
      return { id, path };
    } catch (err) {
      if (!(err instanceof TargetExistsError)) throw err; // same id this second: draw another
    }
  }
  throw new Error('could not find a free task id after 10 tries');
}
