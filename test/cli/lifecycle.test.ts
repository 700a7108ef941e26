import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { newMailroom, runCli, tempDir } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research', 'coder']);
});
afterAll(async () => env.cleanup());

const taskAt = async (rel: string) => {
  const text = await readFile(join(env.root, rel), 'utf8');
  const r = parseTask(text);
  if (!r.ok) throw new Error(r.problem.reason);
  return { text, task: r.value.task };
};

async function send(title: string, extra: string[] = []) {
  const r = await env.mr(['send', 'research', title, '--as', 'dispatch', ...extra]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

describe('a task through its whole life with the CLI', () => {
  it('send, ack, start, progress, done: result appended, file moved to the outbox', async () => {
    const id = await send('Summarise five articles', ['--body', 'Read them all.', '--priority', 'high']);
    expect(id).toMatch(/^\d{8}-\d{6}-[0-9a-z]{4}$/);
    expect((await taskAt(`agents/research/inbox/${id}.md`)).task).toMatchObject({
      state: 'queued',
      from: 'dispatch',
      to: 'research',
      priority: 'high',
    });

    for (const args of [
      ['ack', id.slice(0, 18)],
      ['start', id],
      ['progress', id, 'page 42/100'],
    ]) {
      const r = await env.mr(args);
      expect(r.code, r.stderr).toBe(0);
    }
    const done = await env.mr(['done', id, '--result', 'Five summaries, attached.']);
    expect(done.code, done.stderr).toBe(0);
    await expect(stat(join(env.root, `agents/research/inbox/${id}.md`))).rejects.toThrow(/ENOENT/);
    const { text, task } = await taskAt(`agents/research/outbox/${id}.md`);
    expect(task.state).toBe('done');
    expect(task.history.map((h) => [h.state, h.by, h.note])).toEqual([
      ['queued', 'dispatch', undefined],
      ['acked', 'research', undefined],
      ['running', 'research', undefined],
      ['running', 'research', 'page 42/100'],
      ['done', 'research', undefined],
    ]);
    expect(text).toMatch(/---\nRead them all\.\n\n## Result\n\nFive summaries, attached\.\n$/);

    const log = await env.mr(['log', '--task', id, '--json']);
    expect(JSON.parse(log.stdout).events.map((e: { type: string; to?: string }) => e.to ?? e.type)).toEqual([
      'research',
      'acked',
      'running',
      'task.progress',
      'done',
    ]);
  });

  it('fail with --retryable --tried records structured error context, and retry re-queues it', async () => {
    const id = await send('Call the search API');
    expect((await env.mr(['start', id])).code).toBe(0); // queued -> running: acked is recorded as skipped
    const f = await env.mr([
      'fail',
      id,
      '--error',
      'HTTP 429 from the search API',
      '--retryable',
      '--tried',
      'three requests with 1s/2s/4s backoff',
    ]);
    expect(f.code, f.stderr).toBe(0);
    const failed = (await taskAt(`agents/research/outbox/${id}.md`)).task;
    expect(failed.state).toBe('failed');
    expect(failed.error).toEqual({
      message: 'HTTP 429 from the search API',
      retryable: true,
      tried: 'three requests with 1s/2s/4s backoff',
    });
    expect(failed.history.map((h) => [h.state, h.note])).toEqual([
      ['queued', undefined],
      ['acked', 'skipped'],
      ['running', undefined],
      ['failed', undefined],
    ]);

    const r = await env.mr(['retry', id, '--to', 'coder', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      schemaVersion: 1,
      id,
      state: 'queued',
      agent: 'coder',
      box: 'inbox',
    });
    const retried = (await taskAt(`agents/coder/inbox/${id}.md`)).task;
    expect(retried).toMatchObject({ state: 'queued', attempt: 2, to: 'coder' });
    expect(retried.error).toBeUndefined();
    expect(retried.history.at(-1)?.note).toMatch(/retry, attempt 2 of 3 on coder after: HTTP 429/);
  });

  it('reassign moves an unfinished task and archive files a finished one away', async () => {
    const id = await send('Refactor');
    expect((await env.mr(['ack', id])).code).toBe(0);
    expect((await env.mr(['reassign', id, 'coder'])).code).toBe(0);
    expect((await taskAt(`agents/coder/inbox/${id}.md`)).task).toMatchObject({
      state: 'queued',
      to: 'coder',
    });
    expect((await env.mr(['done', id, '--as', 'coder'])).code).toBe(0);
    expect((await env.mr(['archive', id])).code).toBe(0);
    expect((await taskAt(`agents/coder/archive/${id}.md`)).task.state).toBe('done');
    const ls = JSON.parse((await env.mr(['ls', '--box', 'archive', '--json'])).stdout);
    expect(ls.tasks.map((t: { id: string }) => t.id)).toContain(id);
  });

  it('reads the body from standard input with -', async () => {
    const r = await env.mr(['send', 'research', 'From stdin', '-'], { input: 'Line one\nLine two\n' });
    expect(r.code, r.stderr).toBe(0);
    const { text } = await taskAt(`agents/research/inbox/${r.stdout.trim()}.md`);
    expect(text.endsWith('---\nLine one\nLine two\n')).toBe(true);
  });
});

describe('refusals and errors', () => {
  it('refuses illegal transitions with exit 3 and leaves the file byte-for-byte untouched', async () => {
    const id = await send('Finish me');
    expect((await env.mr(['done', id])).code).toBe(0);
    const path = `agents/research/outbox/${id}.md`;
    const before = await readFile(join(env.root, path));
    for (const args of [
      ['ack', id],
      ['start', id],
      ['progress', id, 'more'],
      ['fail', id, '--error', 'x'],
      ['done', id],
      ['retry', id],
      ['reassign', id, 'coder'],
    ]) {
      const r = await env.mr(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(/^mailroom: cannot \w+ task|^mailroom: /);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    }
    expect(await readFile(join(env.root, path))).toEqual(before);

    const running = await send('Running');
    expect((await env.mr(['start', running])).code).toBe(0);
    const rPath = join(env.root, `agents/research/inbox/${running}.md`);
    const rBefore = await readFile(rPath);
    const back = await env.mr(['ack', running]);
    expect(back.code).toBe(3);
    expect(back.stderr).toContain('running -> acked moves backwards');
    expect(await readFile(rPath)).toEqual(rBefore);
  });

  it('exit 2 for what does not exist, exit 1 for bad input, with a clear message', async () => {
    const cases: [string[], number, RegExp][] = [
      [['show', '20991231-000000-zzzz'], 2, /no task 20991231-000000-zzzz/],
      [['ack', 'nope'], 2, /no task nope/],
      [['show', '2'], 1, /ambiguous/],
      [['show', 'a/b'], 1, /invalid task id "a\/b"/],
      [['ack', '..'], 1, /invalid task id "\.\."/],
      [['ack', '../../etc/passwd'], 1, /invalid task id/],
      [['agent', 'add', 'Bad/Name'], 1, /invalid agent name "Bad\/Name"/],
      [['agent', 'add', '..'], 1, /invalid agent name/],
      [['send', '../x', 'title'], 1, /invalid agent name "..\/x"/],
      [['send', 'ghost', 'title'], 2, /no agent named "ghost"/],
      [['send', 'research', 'title', '--ack-timeout', 'soon'], 1, /invalid --ack-timeout "soon"/],
      [['send', 'research', 'title', '--run-timeout', '5 minutes'], 1, /invalid --run-timeout/],
      [['send', 'research', 'title', '--max-attempts', 'zero'], 1, /invalid --max-attempts/],
      [['send', 'research', 'title', '--as', 'ghost'], 2, /no agent named "ghost"/],
      [['ls', '--state', 'doing'], 1, /invalid --state "doing"/],
      [['frobnicate'], 1, /unknown command/],
    ];
    for (const [args, code, message] of cases) {
      const r = await env.mr(args);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), code]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
    }
  });

  it('without a mailroom, commands say how to make one (exit 2)', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const r = await runCli(['ls'], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/no mailroom found/);
      expect(r.stderr).toMatch(/mailroom init/);
    } finally {
      await cleanup();
    }
  });

  it('finds the root from MAILROOM_ROOT and by walking up from a subfolder', async () => {
    expect((await runCli(['ls', '--json'], { env: { MAILROOM_ROOT: env.root } })).code).toBe(0);
    const r = await runCli(['agent', 'ls', '--json'], { cwd: join(env.root, 'agents/research/inbox') });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).agents.map((a: { name: string }) => a.name)).toEqual([
      'dispatch',
      'human',
      'research',
      'coder',
    ]);
  });
});
