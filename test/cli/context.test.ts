// Text a command takes from piped standard input (cli/context.ts, pipedStdin and textInput): read
// when no text is given, never dropped, and an open pipe nobody writes to is not waited on for ever.
// Issue 12's defect (piped standard input dropped), each case failing on the code before it.

import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, newMailroom } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research', 'coder']);
});
afterAll(async () => env.cleanup());

describe('piped standard input is read when no text is given, never dropped', () => {
  it('echo result | mailroom done ID records the result', async () => {
    const id = await env.send('Piped result');
    const r = await env.mr(['done', id, '--as', 'research'], { input: 'Five summaries, piped.\n' });
    expect(r.code, r.stderr).toBe(0);
    const task = await env.taskAt(`agents/research/outbox/${id}.md`);
    expect(task.file.body).toContain('## Result\n\nFive summaries, piped.\n');
  });

  it('send without --body takes the body from the pipe; progress without a note takes the note', async () => {
    const r = await env.mr(['send', 'research', 'Piped body', '--as', 'dispatch'], {
      input: 'Read all five.\n',
    });
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    expect((await env.taskAt(`agents/research/inbox/${id}.md`)).file.body).toBe('Read all five.\n');
    expect((await env.mr(['start', id, '--as', 'research'])).code).toBe(0);
    const p = await env.mr(['progress', id, '--as', 'research'], { input: 'page 42/100\n' });
    expect(p.code, p.stderr).toBe(0);
    expect((await env.taskAt(`agents/research/inbox/${id}.md`)).task.history.at(-1)?.note).toBe(
      'page 42/100',
    );
  });

  it('progress with neither a note nor piped input is refused (exit 1), not a silent empty note', async () => {
    const id = await env.send('No note');
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
