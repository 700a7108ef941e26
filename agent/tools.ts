// The agent verbs as MCP tools (docs/spec.md §7): names, descriptions written for a model that has
// never seen mailroom, input schemas, and what each does through the same ops the CLI uses. No MCP
// here: agent/mcp.ts registers these with the SDK. A tool returns data (sent as JSON text) or throws
// a MailroomError, which the model receives as an error result with the fix.

import { z } from 'zod';
import type { Mailroom } from '../src/mailroom.js';
import { answer, answerOf, ask } from '../src/ops/ask.js';
import { lookAtInbox } from '../src/ops/cursor.js';
import { progress, transition } from '../src/ops/lifecycle.js';
import { deadlineOf, listTasks, summarise } from '../src/ops/list.js';
import type { MemoryCache } from '../src/ops/list-cache.js';
import { claimNext } from '../src/ops/next.js';
import { sendTask } from '../src/ops/send.js';
import { statusReport } from '../src/ops/status.js';
import type { LoadedTask } from '../src/store/scan.js';
import { loadTask } from '../src/store/tasks.js';
import { splitResult } from '../src/task/result.js';
import { waitFor } from './wait.js';

/** Tasks `list` returns unless asked for more: an answer a model reads whole stays short. */
const LIST_LIMIT = 50;

/** The MCP clients' request timeout is 60 s: a waiting call must return well before it. */
export const MAX_WAIT_SECONDS = 50;

export interface ToolContext {
  mr: Mailroom;
  agent: string;
  signal?: AbortSignal;
  /**
   * The server's in-memory ls cache (src/ops/list-cache.ts), kept for the life of `mailroom mcp`: a
   * listing then stats the files and reads only those whose stamp changed.
   */
  cache?: MemoryCache;
}

export interface ToolDef {
  name: string;
  description: string;
  input: z.ZodObject;
  run: (ctx: ToolContext, args: Record<string, unknown>) => Promise<unknown>;
}

const id = z.string().describe('the task id, or any unique prefix of it');

export function taskData(mr: Mailroom, t: LoadedTask) {
  const summary = summarise(mr, t);
  const { request, result } = splitResult(t.parsed.file.body);
  return { ...summary, deadline: deadlineOf(summary), request, result, history: t.parsed.task.history };
}

const done = (mr: Mailroom, r: { after: LoadedTask }) => {
  const t = r.after;
  return { id: t.id, state: t.parsed.task.state, path: mr.layout.rel(t.path) };
};

const def = <S extends z.ZodObject>(
  name: string,
  description: string,
  input: S,
  run: (ctx: ToolContext, args: z.infer<S>) => Promise<unknown>,
): ToolDef => ({ name, description, input, run: run as ToolDef['run'] });

export const TOOLS: ToolDef[] = [
  def(
    'next',
    'Start here. Claims your best queued task (urgent first, then oldest) and returns it: id, title, from, ' +
      'request (what to do), deadline. The task is then "acked" (you have it; nobody else will get it). ' +
      'Call start when you begin, progress while working, done or fail at the end. ' +
      'Returns {"task": null} when nothing is queued: then call wait.',
    z.object({}),
    async ({ mr, agent, cache }) => {
      const r = await claimNext(mr, agent, cache ? { memory: cache } : {});
      return r
        ? { task: taskData(mr, r.after) }
        : { task: null, hint: 'nothing queued; call wait to sleep until something arrives' };
    },
  ),
  def(
    'list',
    'Lists tasks. By default your open tasks (queued, acked, running) in the order to work them. ' +
      'Give states (e.g. ["done","failed"]) or box ("inbox", "outbox", "archive") to see others in your folders. ' +
      `At most limit tasks (default ${LIST_LIMIT}), first in that order; total says how many there are.`,
    z.object({
      states: z.array(z.enum(['queued', 'acked', 'running', 'done', 'failed'])).optional(),
      box: z.enum(['inbox', 'outbox', 'archive']).optional(),
      limit: z.number().int().min(1).max(10_000).optional(),
    }),
    async ({ mr, agent, cache }, a) => {
      const memory = cache ? { memory: cache } : {};
      const { tasks, problems } =
        a.states === undefined && a.box === undefined
          ? await listTasks(mr, { mine: agent }, memory)
          : await listTasks(
              mr,
              {
                agent,
                ...(a.states ? { state: a.states } : {}),
                ...(a.box ? { box: a.box } : {}),
              },
              memory,
            );
      // A model reads every byte of the answer: a long queue is cut, in working order, with its size.
      const shown = tasks.slice(0, a.limit ?? LIST_LIMIT);
      return { total: tasks.length, tasks: shown.map((t) => ({ ...t, deadline: deadlineOf(t) })), problems };
    },
  ),
  def(
    'show',
    'Returns one task in full: fields, request, result (null until finished), history.',
    z.object({ id }),
    async ({ mr }, a) => taskData(mr, await loadTask(mr, a.id)),
  ),
  def(
    'ack',
    'Acknowledges a queued task: you have received it (next does this for you). Must happen within ack_timeout.',
    z.object({ id }),
    async ({ mr, agent }, a) => done(mr, await transition(mr, a.id, 'acked', { as: agent })),
  ),
  def(
    'start',
    'Marks a task running: you began the work. Then call progress at least every run_timeout, or it is treated as stuck.',
    z.object({ id }),
    async ({ mr, agent }, a) => done(mr, await transition(mr, a.id, 'running', { as: agent })),
  ),
  def(
    'progress',
    'Adds a progress note to a running task (e.g. "page 42/100"); this renews its deadline.',
    z.object({ id, note: z.string().min(1).describe('what has been done so far') }),
    async ({ mr, agent }, a) => done(mr, await progress(mr, a.id, a.note, { as: agent })),
  ),
  def(
    'done',
    'Finishes a task with its result (Markdown). The task goes back to whoever sent it; do not touch it afterwards.',
    z.object({ id, result: z.string().describe('the result, appended under "## Result"') }),
    async ({ mr, agent }, a) => done(mr, await transition(mr, a.id, 'done', { as: agent, result: a.result })),
  ),
  def(
    'fail',
    'Fails a task: say what went wrong, whether trying again may work (retryable), and what you tried.',
    z.object({
      id,
      error: z.string().min(1),
      retryable: z.boolean().default(false),
      tried: z.string().optional(),
    }),
    async ({ mr, agent }, a) =>
      done(
        mr,
        await transition(mr, a.id, 'failed', {
          as: agent,
          error: {
            message: a.error,
            retryable: a.retryable,
            ...(a.tried === undefined ? {} : { tried: a.tried }),
          },
        }),
      ),
  ),
  def(
    'send',
    "Sends a new task to another agent's inbox. Its result comes back to your inbox when it is done (see wait).",
    z.object({
      to: z.string().describe('the agent who does it'),
      title: z.string().describe('one line'),
      body: z.string().optional().describe('details, links, acceptance criteria (Markdown)'),
      priority: z.enum(['urgent', 'high', 'normal', 'low']).optional(),
    }),
    async ({ mr, agent }, a) => {
      const r = await sendTask(mr, {
        to: a.to,
        title: a.title,
        from: agent,
        ...(a.body === undefined ? {} : { body: a.body }),
        ...(a.priority === undefined ? {} : { priority: a.priority }),
      });
      return { id: r.id, to: a.to, path: mr.layout.rel(r.path) };
    },
  ),
  def(
    'ask',
    'Asks a question (to "human" to reach a person, who is notified at once). Returns its id at once; ' +
      'the answer arrives in your inbox: call wait to receive it (or show with the id).',
    z.object({ to: z.string().default('human'), question: z.string().min(1), body: z.string().optional() }),
    async ({ mr, agent }, a) => {
      const r = await ask(mr, {
        from: agent,
        to: a.to,
        question: a.question,
        ...(a.body ? { body: a.body } : {}),
      });
      const answered = answerOf(await loadTask(mr, r.id));
      return { id: r.id, notified: r.notified, answer: answered };
    },
  ),
  def(
    'answer',
    'Answers a question addressed to you (a task with kind "question"): it is done with your answer as the result.',
    z.object({ id, text: z.string().min(1) }),
    async ({ mr, agent }, a) => done(mr, await answer(mr, a.id, a.text, { as: agent })),
  ),
  def(
    'wait',
    `Sleeps until something new reaches your inbox (a task, a result, an answer) and returns it; at most ` +
      `timeout_seconds (default and maximum ${MAX_WAIT_SECONDS}). Returns {"changes": [], "status": "nothing yet"} ` +
      'when the time is up: call wait again. Each change is reported once.',
    z.object({ timeout_seconds: z.number().min(0).max(MAX_WAIT_SECONDS).default(MAX_WAIT_SECONDS) }),
    async ({ mr, agent, signal }, a) => {
      const look = async () => {
        const c = await lookAtInbox(mr, agent);
        return c.length > 0 ? c : undefined;
      };
      const changes = await waitFor([mr.layout.boxDir(agent, 'inbox')], look, {
        timeoutMs: a.timeout_seconds * 1000,
        ...(signal ? { signal } : {}),
      });
      return changes ? { changes } : { changes: [], status: 'nothing yet; call wait again' };
    },
  ),
  def(
    'status',
    'The global picture: agents and their task counts by state, stuck, escalated and unreadable tasks, the daemon.',
    z.object({}),
    async ({ mr }) => statusReport(mr),
  ),
];
