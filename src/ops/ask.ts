// Questions (docs/spec.md §2, §4): a question is a task with `kind: question` whose result is the
// answer. `ask` sends one (and, when it goes to the escalation agent, a person, runs `notify` at once:
// a person is pushed, not left to look); `answer` finishes it as done through the same transition as
// `mailroom done`, so it goes back to the asker as every finished task does.

import { usageError } from '../errors.js';
import type { Mailroom } from '../mailroom.js';
import type { LoadedTask } from '../store/scan.js';
import { loadTask, type UpdateResult } from '../store/tasks.js';
import { runNotify } from '../supervisor/notify.js';
import { splitResult } from '../task/result.js';
import { type Actor, transition } from './lifecycle.js';
import { sendTask } from './send.js';

export const QUESTION = 'question';

export const isQuestion = (t: LoadedTask): boolean => t.parsed.task.kind === QUESTION;

export interface AskInput {
  from: string;
  to: string;
  question: string;
  body?: string;
  priority?: string;
}

export interface Asked {
  id: string;
  path: string;
  queuedIn?: string;
  /** Whether `notify` ran (a question to the escalation agent, with `notify` configured). */
  notified: boolean;
}

export async function ask(mr: Mailroom, input: AskInput): Promise<Asked> {
  const sent = await sendTask(mr, {
    to: input.to,
    title: input.question,
    from: input.from,
    kind: QUESTION,
    ...(input.body === undefined ? {} : { body: input.body }),
    ...(input.priority === undefined ? {} : { priority: input.priority }),
  });
  // A person on another machine is told there, when the task arrives (not from this machine).
  const toPerson =
    input.to === mr.config.escalate_to && mr.config.notify !== undefined && sent.queuedIn === undefined;
  if (toPerson) await notifyQuestion(mr, sent.id, sent.path, input);
  return { ...sent, notified: toPerson };
}

/** The same command and environment as an escalation's; the reason says who asks. */
async function notifyQuestion(mr: Mailroom, id: string, path: string, input: AskInput): Promise<void> {
  const reason = `question from ${input.from}`;
  const outcome = await runNotify(
    mr.config.notify!,
    {
      id,
      title: input.question.trim(),
      reason,
      from: input.from,
      to: input.to,
      state: 'queued',
      priority: input.priority ?? 'normal',
      path,
      root: mr.layout.root,
    },
    { cwd: mr.layout.root },
  );
  await mr.log({
    type: outcome.ok ? 'notify.sent' : 'notify.failed',
    id,
    code: outcome.code,
    reason: outcome.ok ? reason : outcome.stderr.slice(0, 500),
  });
}

/** Finish a question as done with the answer as its result (the op `mailroom done` uses). */
export async function answer(
  mr: Mailroom,
  ref: string,
  text: string,
  input: Actor = {},
): Promise<UpdateResult> {
  if (!text.trim())
    throw usageError('the answer is empty', 'say the answer: mailroom answer ID "yes, go ahead"');
  const task = await loadTask(mr, ref);
  if (!isQuestion(task))
    throw usageError(
      `task ${task.id} is not a question (no "kind: question")`,
      `finish it with: mailroom done ${task.id} --result "..."`,
    );
  return transition(mr, task, 'done', { ...input, result: text });
}

/** The answer of a question once it is done; null while it is open. */
export function answerOf(t: LoadedTask): string | null {
  if (t.parsed.task.state !== 'done') return null;
  return splitResult(t.parsed.file.body).result ?? '';
}
