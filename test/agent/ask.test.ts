// Questions: `ask` to a person runs notify at once with the question in the environment; `answer`
// finishes the question with the answer as its result; `ask --wait` returns the answer, and a
// question that came back is reported by `wait` with its answer.

import { type ChildProcess, spawn } from 'node:child_process';
import { appendFile, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, newMailroom } from '../support/cli.js';
import { pollUntil } from '../support/poll.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research']);
  // Fields reach the command only as environment variables, as for escalations.
  await appendFile(
    join(env.root, 'mailroom.yaml'),
    `notify: printf '%s|%s|%s|%s' "$MAILROOM_TITLE" "$MAILROOM_REASON" "$MAILROOM_FROM" "$MAILROOM_ID" > notified.txt\n`,
  );
});
afterAll(async () => env.cleanup());

const humanQuestions = async () =>
  JSON.parse((await env.mr(['ls', '--mine', '--as', 'human', '--json'])).stdout).tasks.filter(
    (t: { kind?: string }) => t.kind === 'question',
  );

describe('ask and answer', () => {
  it('a question to the human runs notify at once, with the question in the environment', async () => {
    const r = await env.mr(['ask', 'human', 'May I delete the old cache?', '--as', 'research']);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    expect(await readFile(join(env.root, 'notified.txt'), 'utf8')).toBe(
      `May I delete the old cache?|question from research|research|${id}`,
    );
    const shown = JSON.parse((await env.mr(['show', id, '--json'])).stdout);
    expect(shown.task).toMatchObject({ kind: 'question', from: 'research', to: 'human', state: 'queued' });
  });

  it('ask --wait returns the answer given from another process', async () => {
    const childEnv = { ...process.env };
    delete childEnv.MAILROOM_AGENT;
    delete childEnv.MAILROOM_ROOT;
    const child: ChildProcess = spawn(
      process.execPath,
      [BIN, 'ask', 'human', 'Which branch?', '--as', 'research', '--wait', '60s', '--root', env.root],
      { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    await pollUntil('ask to wait for its answer', () => err.includes('waiting for the answer'), 30_000);
    const q = (await humanQuestions()).find((t: { title: string }) => t.title === 'Which branch?');
    const a = await env.mr(['answer', q.id, 'main, please']);
    expect(a.code, a.stderr).toBe(0);
    expect(await exit).toBe(0);
    expect(out).toBe('main, please\n');
    // Answered as the human (the question's `to`), through the same transition as done.
    const shown = JSON.parse((await env.mr(['show', q.id, '--json'])).stdout);
    expect(shown).toMatchObject({ state: 'done', box: 'outbox', result: 'main, please' });
    expect(shown.task.history.at(-1)).toMatchObject({ state: 'done', by: 'human' });
  });

  it("the answered question coming back is reported by the asker's wait, with the answer", async () => {
    await env.mr(['wait', '--as', 'research', '--timeout', '1s']); // take in what is there
    const id = (await env.mr(['ask', 'human', 'Ship it?', '--as', 'research'])).stdout.trim();
    expect((await env.mr(['answer', id, 'yes'])).code).toBe(0);
    // The daemon routes it to the asker; here its move is made by hand.
    await rename(
      join(env.root, `agents/human/outbox/${id}.md`),
      join(env.root, `agents/research/inbox/${id}.md`),
    );
    const r = await env.mr(['wait', '--as', 'research', '--timeout', '5s', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).changes).toEqual([
      expect.objectContaining({ id, change: 'answer', answer: 'yes' }),
    ]);
  });

  it('answer refuses a task that is not a question, and ask --wait gives up with exit 5', async () => {
    const id = (await env.mr(['send', 'human', 'Not a question', '--as', 'research'])).stdout.trim();
    const r = await env.mr(['answer', id, 'yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not a question');
    const w = await env.mr(['ask', 'human', 'Anyone?', '--as', 'research', '--wait', '300ms', '--json']);
    expect(w.code).toBe(5);
    expect(JSON.parse(w.stdout)).toMatchObject({ answer: null, nothing: true });
  });

  it('errors under --json are JSON on stdout with schemaVersion', async () => {
    const r = await env.mr(['show', 'nosuchtask', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({
      schemaVersion: 1,
      error: { kind: 'notFound', exitCode: 2 },
    });
  });
});
