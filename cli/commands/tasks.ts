// Handlers for the task verbs: send, ack, start, progress, done, fail, retry, reassign, archive.

import { usageError } from '../../src/errors.js';
import type { Mailroom } from '../../src/mailroom.js';
import { archive, progress, reassign, retry, transition } from '../../src/ops/lifecycle.js';
import { sendTask } from '../../src/ops/send.js';
import type { UpdateResult } from '../../src/store/tasks.js';
import { actingAs, type CommonOptions, open, pipedStdin, textInput } from '../context.js';
import { printJson, println, warn } from '../output.js';

function report(mr: Mailroom, r: UpdateResult, opts: CommonOptions, verb: string): void {
  const t = r.after.parsed.task;
  const path = mr.layout.rel(r.after.path);
  if (opts.json) printJson({ id: r.after.id, state: t.state, agent: r.after.agent, box: r.after.box, path });
  else println(`${verb} ${r.after.id} (${t.state}) -> ${path}`);
}

/** Where a task for an agent of another machine waits, and when it moves (docs/spec.md §6). */
export const queuedNotice = (queuedIn: string, to: string): string =>
  `queued in ${queuedIn}; it reaches ${to} when the hub next syncs (every 60s by default, or at once with a daemon)`;

export interface SendOptions extends CommonOptions {
  body?: string;
  bodyFile?: string;
  priority?: string;
  ackTimeout?: string;
  runTimeout?: string;
  maxAttempts?: string;
}

export async function send(
  to: string,
  title: string,
  dash: string | undefined,
  opts: SendOptions,
): Promise<void> {
  const mr = await open(opts);
  const body = await textInput('body', opts.body, opts.bodyFile, dash);
  let maxAttempts: number | undefined;
  if (opts.maxAttempts !== undefined) {
    maxAttempts = Number(opts.maxAttempts);
    if (!/^\d+$/.test(opts.maxAttempts) || maxAttempts < 1)
      throw usageError(
        `invalid --max-attempts ${JSON.stringify(opts.maxAttempts)}`,
        'give a whole number, 1 or more',
      );
  }
  const input: Parameters<typeof sendTask>[1] = { to, title, from: actingAs(opts) ?? 'human' };
  if (body !== undefined) input.body = body;
  if (opts.priority !== undefined) input.priority = opts.priority;
  if (opts.ackTimeout !== undefined) input.ackTimeout = opts.ackTimeout;
  if (opts.runTimeout !== undefined) input.runTimeout = opts.runTimeout;
  if (maxAttempts !== undefined) input.maxAttempts = maxAttempts;
  const { id, path, queuedIn } = await sendTask(mr, input);
  if (opts.json)
    printJson({ id, to, path: mr.layout.rel(path), ...(queuedIn ? { queued_in: queuedIn } : {}) });
  else println(id);
  // stdout stays the id alone (scripts capture it); where it waits goes to stderr.
  if (queuedIn && !opts.json) warn(queuedNotice(queuedIn, to));
}

const asOpt = (opts: CommonOptions) => {
  const as = actingAs(opts);
  return as === undefined ? {} : { as };
};

export async function ack(id: string, opts: CommonOptions): Promise<void> {
  const mr = await open(opts);
  report(mr, await transition(mr, id, 'acked', asOpt(opts)), opts, 'acked');
}

export async function start(id: string, opts: CommonOptions): Promise<void> {
  const mr = await open(opts);
  report(mr, await transition(mr, id, 'running', asOpt(opts)), opts, 'started');
}

export async function note(id: string, text: string | undefined, opts: CommonOptions): Promise<void> {
  const mr = await open(opts);
  // A piped note ends with the pipe's newline; a note is one line in the history.
  const given = text ?? (await pipedStdin('note'))?.replace(/\s+$/, '');
  if (given === undefined)
    throw usageError(
      'the progress note is missing',
      `say what has been done: mailroom progress ${id} "page 42/100"`,
    );
  report(mr, await progress(mr, id, given, asOpt(opts)), opts, 'noted');
}

export async function done(
  id: string,
  dash: string | undefined,
  opts: CommonOptions & { result?: string; resultFile?: string },
): Promise<void> {
  const mr = await open(opts);
  const result = await textInput('result', opts.result, opts.resultFile, dash);
  report(
    mr,
    await transition(mr, id, 'done', { ...asOpt(opts), ...(result === undefined ? {} : { result }) }),
    opts,
    'done',
  );
}

export async function fail(
  id: string,
  opts: CommonOptions & { error: string; retryable?: boolean; tried?: string },
): Promise<void> {
  const mr = await open(opts);
  if (!opts.error.trim()) throw usageError('--error must say what went wrong');
  const error = {
    message: opts.error,
    retryable: opts.retryable === true,
    ...(opts.tried === undefined ? {} : { tried: opts.tried }),
  };
  report(mr, await transition(mr, id, 'failed', { ...asOpt(opts), error }), opts, 'failed');
}

export async function retryTask(id: string, opts: CommonOptions & { to?: string }): Promise<void> {
  const mr = await open(opts);
  report(
    mr,
    await retry(mr, id, { ...asOpt(opts), ...(opts.to === undefined ? {} : { to: opts.to }) }),
    opts,
    'queued',
  );
}

export async function reassignTask(id: string, agent: string, opts: CommonOptions): Promise<void> {
  const mr = await open(opts);
  report(mr, await reassign(mr, id, agent, asOpt(opts)), opts, 'reassigned');
}

export async function archiveTask(id: string, opts: CommonOptions): Promise<void> {
  const mr = await open(opts);
  report(mr, await archive(mr, id, asOpt(opts)), opts, 'archived');
}
