// The defects issue 12 names, each as a test that fails on the code before it: a reassigned task
// still worked by its old worker, a human finishing an escalated task recorded as the worker, piped
// standard input dropped, and `+00:00` times making a task unreadable.

import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMailroom } from '../../src/mailroom.js';
import { escalate } from '../../src/ops/lifecycle.js';
import { parseTask } from '../../src/task/parse.js';
import { BIN, newMailroom } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research', 'coder']);
});
afterAll(async () => env.cleanup());

async function send(title: string, to = 'research'): Promise<string> {
  const r = await env.mr(['send', to, title, '--as', 'dispatch']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

async function taskAt(rel: string) {
  const r = parseTask(await readFile(join(env.root, rel), 'utf8'));
  if (!r.ok) throw new Error(r.problem.reason);
  return r.value;
}

describe("ownership: every worker verb checks the acting agent is the task's worker", () => {
  it('after a reassign the old worker cannot ack, start or finish it: "reassigned to X", exit 3', async () => {
    const id = await send('Reassigned away');
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
    const task = await taskAt(`agents/coder/inbox/${id}.md`);
    expect(task.task.state).toBe('queued'); // nothing the old worker did landed
    expect((await env.mr(['ack', id, '--as', 'coder'])).code).toBe(0);
  });

  it('progress by an agent that is not the worker is refused (exit 3)', async () => {
    const id = await send('Not yours');
    expect((await env.mr(['start', id, '--as', 'research'])).code).toBe(0);
    const r = await env.mr(['progress', id, 'half', '--as', 'coder']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('addressed to research, not to coder');
  });

  it('a human finishing an escalated task is recorded as the human, not as the worker', async () => {
    const id = await send('Escalate me');
    const mr = await openMailroom(env.root);
    await escalate(mr, id, 'nobody acknowledged it');
    const r = await env.mr(['done', id, '--result', 'did it myself']);
    expect(r.code, r.stderr).toBe(0);
    const task = await taskAt(`agents/human/outbox/${id}.md`);
    expect(task.task.history.at(-1)).toMatchObject({ state: 'done', by: 'human' });
    // And --as human is allowed for it too, while --as coder is not.
    const other = await send('Escalate me too');
    await escalate(mr, other, 'nobody acknowledged it');
    expect((await env.mr(['ack', other, '--as', 'coder'])).code).toBe(3);
    expect((await env.mr(['ack', other, '--as', 'human'])).code).toBe(0);
  });
});

describe('piped standard input is read when no text is given, never dropped', () => {
  it('echo result | mailroom done ID records the result', async () => {
    const id = await send('Piped result');
    const r = await env.mr(['done', id, '--as', 'research'], { input: 'Five summaries, piped.\n' });
    expect(r.code, r.stderr).toBe(0);
    const task = await taskAt(`agents/research/outbox/${id}.md`);
    expect(task.file.body).toContain('## Result\n\nFive summaries, piped.\n');
  });

  it('send without --body takes the body from the pipe; progress without a note takes the note', async () => {
    const r = await env.mr(['send', 'research', 'Piped body', '--as', 'dispatch'], {
      input: 'Read all five.\n',
    });
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    expect((await taskAt(`agents/research/inbox/${id}.md`)).file.body).toBe('Read all five.\n');
    expect((await env.mr(['start', id, '--as', 'research'])).code).toBe(0);
    const p = await env.mr(['progress', id, '--as', 'research'], { input: 'page 42/100\n' });
    expect(p.code, p.stderr).toBe(0);
    expect((await taskAt(`agents/research/inbox/${id}.md`)).task.history.at(-1)?.note).toBe('page 42/100');
  });

  it('progress with neither a note nor piped input is refused (exit 1), not a silent empty note', async () => {
    const id = await send('No note');
    expect((await env.mr(['start', id, '--as', 'research'])).code).toBe(0);
    const r = await env.mr(['progress', id, '--as', 'research']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('progress note is missing');
  });

  it('a caller that leaves standard input open and silent (execFile) is not stuck: send goes on, saying so', async () => {
    const env2: NodeJS.ProcessEnv = { ...process.env, MAILROOM_STDIN_WAIT_MS: '300' };
    delete env2.MAILROOM_AGENT;
    const child = spawn(
      process.execPath,
      [BIN, 'send', 'research', 'Open stdin', '--as', 'dispatch', '--root', env.root],
      {
        env: env2,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.destroy();
    expect(code, err).toBe(0);
    expect(err).toContain('nothing came within 0.3s; going on without a body');
    expect(out.trim()).toMatch(/^\d{8}-\d{6}-[0-9a-z]{4}$/);
  });
});

describe('RFC 3339 times with an offset are accepted', () => {
  const file = (id: string, at: string) =>
    [
      '---',
      `id: ${id}`,
      'title: Written by a script',
      'from: dispatch',
      'to: research',
      'state: queued',
      `created: ${at}`,
      'history:',
      `  - { state: queued, at: ${at}, by: dispatch }`,
      '---',
      'Body.',
      '',
    ].join('\n');

  it('a task with +00:00 times (date -u -Iseconds, Python isoformat) is readable and can be worked', async () => {
    const id = '20261122-101500-py00';
    await writeFile(join(env.root, `agents/research/inbox/${id}.md`), file(id, '2026-11-22T10:15:00+00:00'));
    const ls = await env.mr(['ls', '--agent', 'research', '--json']);
    expect(ls.code).toBe(0);
    const out = JSON.parse(ls.stdout);
    expect(out.problems).toEqual([]);
    expect(out.tasks.map((t: { id: string }) => t.id)).toContain(id);
    const ack = await env.mr(['ack', id, '--as', 'research']);
    expect(ack.code, ack.stderr).toBe(0);
    // mailroom writes Z.
    expect((await taskAt(`agents/research/inbox/${id}.md`)).task.history.at(-1)?.at).toMatch(/Z$/);
  });

  it('times are compared as instants: 11:00+01:00 is older than 10:30Z', async () => {
    const early = '20261122-100000-off1';
    const late = '20261122-100000-off2';
    await writeFile(
      join(env.root, `agents/coder/inbox/${late}.md`),
      file(late, '2026-11-22T10:30:00Z').replaceAll('research', 'coder'),
    );
    await writeFile(
      join(env.root, `agents/coder/inbox/${early}.md`),
      file(early, '2026-11-22T11:00:00+01:00').replaceAll('research', 'coder'),
    );
    const ls = JSON.parse((await env.mr(['ls', '--agent', 'coder', '--state', 'queued', '--json'])).stdout);
    const ids: string[] = ls.tasks.map((t: { id: string }) => t.id);
    expect(ids.filter((id) => id === early || id === late)).toEqual([early, late]);
  });

  it.each([
    ['2026-11-22T10:15:00Z', true],
    ['2026-11-22T10:15:00+00:00', true],
    ['2026-11-22T05:15:00.123-05:00', true],
    ['2026-11-22t10:15:00z', true],
    ['2026-11-22T10:15:00', false],
    ['2026-13-22T10:15:00Z', false],
  ])('parse %s -> readable: %s', (at, ok) => {
    expect(parseTask(file('x1', at), 'x1').ok).toBe(ok);
  });
});
