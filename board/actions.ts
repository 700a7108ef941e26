// The board's actions: each one is the CLI's own operation (src/ops/), so it takes the same locks,
// writes the same history entries and event-log lines, and can be undone by the same verbs. The page
// sends `{op, ...}` as JSON; everything it sends is checked here before an op sees it.

import { usageError } from '../src/errors.js';
import type { Mailroom } from '../src/mailroom.js';
import { answer } from '../src/ops/ask.js';
import { addNote, archive, reassign, retry } from '../src/ops/lifecycle.js';
import { sendTask } from '../src/ops/send.js';

export const ACTIONS = ['answer', 'retry', 'reassign', 'archive', 'note', 'send'] as const;
export type ActionName = (typeof ACTIONS)[number];

/** The longest text the page may send (an answer, a task body). */
export const MAX_TEXT = 64 * 1024;

/**
 * Answer a question: the `answer` op (src/ops/ask.ts), the same as `mailroom answer`: the question is
 * finished as done with the answer as its result, and the daemon routes it back to the asker.
 */
export function answerQuestion(mr: Mailroom, id: string, text: string, as: string) {
  return answer(mr, id, text, { as });
}

function field(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  if (typeof v !== 'string') throw usageError(`${name}: expected text`);
  if (v.length > MAX_TEXT) throw usageError(`${name}: longer than ${MAX_TEXT} characters`);
  return v;
}

const optionalField = (body: Record<string, unknown>, name: string): string | undefined =>
  body[name] === undefined || body[name] === '' ? undefined : field(body, name);

/** Runs one action as `as`; returns the id of the task it touched. */
export async function runAction(mr: Mailroom, as: string, body: Record<string, unknown>): Promise<string> {
  const op = body.op;
  if (typeof op !== 'string' || !(ACTIONS as readonly string[]).includes(op))
    throw usageError(`unknown action ${JSON.stringify(op)}`, `use one of ${ACTIONS.join(', ')}`);
  if (op === 'send') {
    const input = {
      to: field(body, 'to'),
      title: field(body, 'title'),
      body: optionalField(body, 'body') ?? '',
      from: as,
      priority: optionalField(body, 'priority') ?? 'normal',
    };
    return (await sendTask(mr, input)).id;
  }
  const id = field(body, 'id');
  const r = await (async () => {
    switch (op as Exclude<ActionName, 'send'>) {
      case 'answer': {
        const text = field(body, 'text');
        if (!text.trim()) throw usageError('the answer is empty');
        return answerQuestion(mr, id, text, as);
      }
      case 'retry': {
        const to = optionalField(body, 'to');
        return retry(mr, id, to ? { as, to } : { as });
      }
      case 'reassign':
        return reassign(mr, id, field(body, 'to'), { as });
      case 'archive':
        return archive(mr, id, { as });
      case 'note':
        return addNote(mr, id, field(body, 'text'), { as });
    }
  })();
  return r.after.id;
}
