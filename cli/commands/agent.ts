// Handlers for the agent verbs that wait: next, wait, ask, answer (docs/spec.md §4). "Nothing came"
// is not an error: it exits EXIT_NOTHING (5) with a line on stderr, and `{..., "nothing": true}` under --json.

import { waitFor } from '../../agent/wait.js';
import { parseDurationMs } from '../../src/duration.js';
import { MailroomError, usageError } from '../../src/errors.js';
import type { Mailroom } from '../../src/mailroom.js';
import { answerOf, answer as answerOp, ask as askOp } from '../../src/ops/ask.js';
import { type InboxChange, lookAtInbox } from '../../src/ops/cursor.js';
import { claimNext } from '../../src/ops/next.js';
import { loadTask } from '../../src/store/tasks.js';
import { actingAs, type CommonOptions, open, pipedStdin } from '../context.js';
import { EXIT_NOTHING, printJson, println, warn } from '../output.js';
import { taskJson } from './read.js';
import { queuedNotice } from './tasks.js';

function agentOf(opts: CommonOptions, verb: string): string {
  const as = actingAs(opts);
  if (as === undefined)
    throw usageError(`${verb} acts as an agent: who?`, 'add --as AGENT or set $MAILROOM_AGENT');
  return as;
}

/** `--wait` alone waits without limit; `--wait 30s` at most that long. */
function waitMs(value: string | boolean | undefined, flag: string): number | undefined {
  if (value === undefined || value === true || value === false) return undefined;
  const ms = parseDurationMs(value);
  if (ms === undefined)
    throw usageError(`invalid ${flag} ${JSON.stringify(value)}`, 'durations look like 90s, 5m, 2h or 1d');
  return ms;
}

const inboxOf = (mr: Mailroom, agent: string) => mr.layout.boxDir(agent, 'inbox');

export async function next(opts: CommonOptions & { wait?: string | boolean }): Promise<number> {
  const mr = await open(opts);
  const agent = agentOf(opts, 'next');
  const claim = () => claimNext(mr, agent);
  const claimed =
    opts.wait === undefined
      ? await claim()
      : await waitFor([inboxOf(mr, agent)], claim, {
          timeoutMs: waitMs(opts.wait, '--wait'),
          onSleep: () => warn(`mailroom: waiting for a task for ${agent}`),
        });
  if (!claimed) {
    if (opts.json) printJson({ task: null, nothing: true });
    warn(`mailroom: nothing queued for ${agent}${opts.wait === undefined ? '' : ' came in time'}`);
    return EXIT_NOTHING;
  }
  const t = claimed.after;
  if (opts.json) printJson({ task: taskJson(mr, t) });
  else {
    println(`# ${mr.layout.rel(t.path)}`);
    process.stdout.write(t.text.endsWith('\n') ? t.text : `${t.text}\n`);
  }
  return 0;
}

function formatChange(c: InboxChange): string {
  const head = `${c.change.padEnd(7)} ${c.id}  ${c.state}  ${c.priority}  from ${c.from}: ${c.title}`;
  return c.answer === undefined ? head : `${head}\n  answer: ${c.answer.replace(/\n/g, '\n  ')}`;
}

export async function wait(opts: CommonOptions & { timeout?: string }): Promise<number> {
  const mr = await open(opts);
  const agent = agentOf(opts, 'wait');
  const look = async () => {
    const changes = await lookAtInbox(mr, agent);
    return changes.length > 0 ? changes : undefined;
  };
  const changes = await waitFor([inboxOf(mr, agent)], look, {
    timeoutMs: waitMs(opts.timeout, '--timeout'),
    onSleep: () => warn(`mailroom: waiting for news for ${agent}`),
  });
  if (!changes) {
    if (opts.json) printJson({ changes: [], nothing: true });
    warn(`mailroom: nothing new for ${agent}`);
    return EXIT_NOTHING;
  }
  if (opts.json) printJson({ changes });
  else for (const c of changes) println(formatChange(c));
  return 0;
}

export async function ask(
  to: string,
  question: string,
  opts: CommonOptions & { wait?: string | boolean; body?: string; priority?: string },
): Promise<number> {
  const mr = await open(opts);
  const from = actingAs(opts) ?? 'human';
  const asked = await askOp(mr, {
    from,
    to,
    question,
    ...(opts.body === undefined ? {} : { body: opts.body }),
    ...(opts.priority === undefined ? {} : { priority: opts.priority }),
  });
  if (asked.queuedIn && !opts.json) warn(queuedNotice(asked.queuedIn, to));
  if (opts.wait === undefined) {
    if (opts.json) printJson({ id: asked.id, to, path: mr.layout.rel(asked.path), notified: asked.notified });
    else println(asked.id);
    return 0;
  }
  const probe = async () => {
    // Read without the lock: the answered question may be between two boxes at this moment (its
    // move to the outbox, then home). Not found now is "look again on the next event", not an error.
    const task = await loadTask(mr, asked.id).catch((err: unknown) => {
      if (err instanceof MailroomError && err.kind === 'notFound') return undefined;
      throw err;
    });
    return (task && answerOf(task)) ?? undefined;
  };
  const paths = [mr.layout.agentDir(to), mr.layout.agentDir(from)];
  const answer = await waitFor(paths, probe, {
    timeoutMs: waitMs(opts.wait, '--wait'),
    onSleep: () => warn(`mailroom: asked ${asked.id}; waiting for the answer`),
  });
  if (answer === undefined) {
    if (opts.json) printJson({ id: asked.id, answer: null, nothing: true });
    else println(asked.id);
    warn(`mailroom: no answer yet to ${asked.id}; \`mailroom wait\` or \`mailroom show ${asked.id}\` later`);
    return EXIT_NOTHING;
  }
  if (opts.json) printJson({ id: asked.id, answer });
  else println(answer);
  return 0;
}

export async function answer(id: string, text: string | undefined, opts: CommonOptions): Promise<void> {
  const mr = await open(opts);
  const given = text ?? (await pipedStdin('answer'));
  if (given === undefined) throw usageError('the answer is missing', `mailroom answer ${id} "yes, go ahead"`);
  const as = actingAs(opts);
  const r = await answerOp(mr, id, given, as === undefined ? {} : { as });
  if (opts.json)
    printJson({ id: r.after.id, state: r.after.parsed.task.state, path: mr.layout.rel(r.after.path) });
  else println(`answered ${r.after.id} -> ${mr.layout.rel(r.after.path)}`);
}
