// Who may do a worker verb (src/ops/lifecycle.ts, workerActor): the task's worker, or the escalation
// agent for a task escalated into its inbox, and no one else. Issue 12's defects, each failing on the
// code before it: a reassigned task still worked by its old worker, a human finishing an escalated
// task recorded as the worker. Through the real CLI.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMailroom } from '../../src/mailroom.js';
import { escalate } from '../../src/ops/lifecycle.js';
import { newMailroom } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research', 'coder']);
});
afterAll(async () => env.cleanup());

describe("ownership: every worker verb checks the acting agent is the task's worker", () => {
  it('after a reassign the old worker cannot ack, start or finish it: "reassigned to X", exit 3', async () => {
    const id = await env.send('Reassigned away');
    expect((await env.mr(['reassign', id, 'coder'])).code).toBe(0);
    for (const args of [
      ['ack', id],
      ['start', id],
      ['done', id, '--result', 'mine'],
      ['fail', id, '--error', 'x'],
    ]) {
      const r = await env.mr([...args, '--as', 'research']);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr).toContain('reassigned to coder');
    }
    const task = await env.taskAt(`agents/coder/inbox/${id}.md`);
    expect(task.task.state).toBe('queued'); // nothing the old worker did landed
    expect((await env.mr(['ack', id, '--as', 'coder'])).code).toBe(0);
  });

  it('progress by an agent that is not the worker is refused (exit 3)', async () => {
    const id = await env.send('Not yours');
    expect((await env.mr(['start', id, '--as', 'research'])).code).toBe(0);
    const r = await env.mr(['progress', id, 'half', '--as', 'coder']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('addressed to research, not to coder');
  });

  it('a human finishing an escalated task is recorded as the human, not as the worker', async () => {
    const id = await env.send('Escalate me');
    const mr = await openMailroom(env.root);
    await escalate(mr, id, 'nobody acknowledged it');
    const r = await env.mr(['done', id, '--result', 'did it myself']);
    expect(r.code, r.stderr).toBe(0);
    const task = await env.taskAt(`agents/human/outbox/${id}.md`);
    expect(task.task.history.at(-1)).toMatchObject({ state: 'done', by: 'human' });
    // And --as human is allowed for it too, while --as coder is not.
    const other = await env.send('Escalate me too');
    await escalate(mr, other, 'nobody acknowledged it');
    expect((await env.mr(['ack', other, '--as', 'coder'])).code).toBe(3);
    expect((await env.mr(['ack', other, '--as', 'human'])).code).toBe(0);
  });
});
