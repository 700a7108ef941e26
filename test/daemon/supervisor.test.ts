import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { newMailroom } from '../support/cli.js';
import { box, type DaemonHandle, events, locations, startDaemon } from '../support/daemon.js';
import { pollUntil } from '../support/poll.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
let daemon: DaemonHandle;

// Every field arrives only as an environment variable; the command writes them to a file per task,
// under a temp name first: the shell creates a redirection's file before printf writes it, and a
// test that saw the file appear read it empty (a CI-like run, once).
const NOTIFY = `printf '%s|%s|%s' "$MAILROOM_TITLE" "$MAILROOM_REASON" "$MAILROOM_TO" > "$MAILROOM_ROOT/.notified-$MAILROOM_ID.tmp" && mv "$MAILROOM_ROOT/.notified-$MAILROOM_ID.tmp" "$MAILROOM_ROOT/notified-$MAILROOM_ID.txt"`;

beforeAll(async () => {
  env = await newMailroom(['research']);
  for (const args of [
    ['agent', 'add', 'research2', '--role', 'research'],
    ['agent', 'add', 'lonely'],
  ]) {
    expect((await env.mr(args)).code).toBe(0);
  }
  // research itself gets the role too, so research and research2 are role mates.
  const configPath = join(env.root, 'mailroom.yaml');
  let config = await readFile(configPath, 'utf8');
  config = config
    .replace('research: {}', 'research: { role: research }')
    .replace('retry_backoff: 1m', 'retry_backoff: 1s')
    .replace('on_stuck: escalate', 'on_stuck: reassign');
  config += 'retry_elsewhere: true\n';
  config += `notify: '${NOTIFY.replace(/'/g, "''")}'\n`;
  // Every escalation here is checked for its own notice: no per-host rate limit in this suite.
  config += 'notify_interval: 0s\n';
  await writeFile(configPath, config);
  expect((await env.mr(['agent', 'ls'])).stdout).toMatch(/research\s+local\s+research/);
  daemon = await startDaemon(env.root);
});
afterAll(async () => {
  await daemon.stop();
  await env.cleanup();
});

const taskAt = async (agent: string, id: string) => {
  const r = parseTask(await readFile(join(env.root, `agents/${agent}/inbox/${id}.md`), 'utf8'));
  if (!r.ok) throw new Error(r.problem.reason);
  return r.value.task;
};
const send = async (to: string, title: string, extra: string[] = []) => {
  const r = await env.mr(['send', to, title, '--as', 'dispatch', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
};
const inInbox = (agent: string, id: string) => async () =>
  (await box(env.root, agent, 'inbox')).includes(`${id}.md`);

describe('the supervisor, run by the real daemon', () => {
  it('not acknowledged in time, with a role mate: worker.down and reassigned to the mate', async () => {
    const id = await send('research', 'ack me or lose me', ['--ack-timeout', '1s']);
    await pollUntil('reassignment', inInbox('research2', id), 15_000);
    const t = await taskAt('research2', id);
    expect(t).toMatchObject({ to: 'research2', state: 'queued' });
    expect(t.history.at(-1)).toMatchObject({
      by: 'mailroom',
      note: expect.stringMatching(/^reassigned from research to research2: not acknowledged within 1s/),
    });
    expect(
      (await events(env.root)).some((e) => e.type === 'worker.down' && e.id === id && e.agent === 'research'),
    ).toBe(true);
    // A move is link-then-unlink: wait for it to finish, then there is exactly one copy.
    await pollUntil('one copy', async () => (await locations(env.root)).get(id)?.length === 1, 10_000);
    expect((await locations(env.root)).get(id)).toEqual(['research2/inbox']);
  });

  it('not acknowledged in time, nobody else: escalated to human, notify gets fields only as env vars', async () => {
    const title = 'Evil $(touch pwned1) `touch pwned2`; touch pwned3 "q" \'s\'';
    const id = await send('lonely', title, ['--ack-timeout', '1s']);
    await pollUntil('escalation', inInbox('human', id), 15_000);
    const t = await taskAt('human', id);
    expect(t.escalated).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(t.state).toBe('queued');
    expect(t.history.at(-1)?.note).toMatch(/^escalated to human: not acknowledged within 1s/);
    const notified = join(env.root, `notified-${id}.txt`);
    await pollUntil('notify', () => existsSync(notified), 10_000);
    const [gotTitle, reason, to] = (await readFile(notified, 'utf8')).split('|');
    expect(gotTitle).toBe(title);
    expect(reason).toMatch(/not acknowledged within 1s/);
    expect(to).toBe('lonely');
    const everywhere = [...(await readdir(env.root)), ...(await readdir(process.cwd()))];
    expect(everywhere.filter((n) => n.startsWith('pwned'))).toEqual([]);
  });

  it('running without progress past run_timeout: escalated', async () => {
    const id = await send('lonely', 'stall', ['--run-timeout', '1s']);
    expect((await env.mr(['start', id])).code).toBe(0);
    await pollUntil('escalation', inInbox('human', id), 15_000);
    expect((await taskAt('human', id)).history.at(-1)?.note).toMatch(/escalated to human: no progress for/);
  });

  it('a retryable failure is re-queued after the backoff; a final failure is escalated', async () => {
    const id = await send('lonely', 'flaky API', ['--max-attempts', '2']);
    expect((await env.mr(['start', id])).code).toBe(0);
    expect((await env.mr(['fail', id, '--error', 'HTTP 429', '--retryable'])).code).toBe(0);
    await pollUntil('the retry', inInbox('lonely', id), 15_000);
    const retried = await taskAt('lonely', id);
    expect(retried).toMatchObject({ state: 'queued', attempt: 2 });
    expect(retried.error).toBeUndefined();
    expect((await env.mr(['start', id])).code).toBe(0);
    expect((await env.mr(['fail', id, '--error', 'HTTP 429 again', '--retryable'])).code).toBe(0);
    await pollUntil('escalation', inInbox('human', id), 15_000);
    const final = await taskAt('human', id);
    expect(final).toMatchObject({ state: 'failed', attempt: 2 });
    expect(final.history.at(-1)?.note).toMatch(/escalated to human: failed 2 of 2 attempts/);
  });

  it('on_stuck: reassign moves a stalled running task to a role mate', async () => {
    const id = await send('research2', 'stalls on research2', ['--run-timeout', '1s']);
    expect((await env.mr(['start', id])).code).toBe(0);
    await pollUntil('reassignment', inInbox('research', id), 15_000);
    const t = await taskAt('research', id);
    expect(t).toMatchObject({ to: 'research', state: 'queued' });
    expect(t.history.at(-1)?.note).toMatch(/^reassigned from research2 to research: no progress for/);
  });

  it('retry_elsewhere: a retryable failure is retried on the next agent of the role', async () => {
    const id = await send('research', 'fails on research');
    expect((await env.mr(['start', id])).code).toBe(0);
    expect((await env.mr(['fail', id, '--error', 'quota', '--retryable'])).code).toBe(0);
    await pollUntil('the retry elsewhere', inInbox('research2', id), 15_000);
    expect(await taskAt('research2', id)).toMatchObject({ to: 'research2', state: 'queued', attempt: 2 });
  });

  it('status shows the escalated tasks and a running daemon', async () => {
    const r = await env.mr(['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.schemaVersion).toBe(1);
    expect(s.daemon.running).toBe(true);
    expect(s.escalated.length).toBeGreaterThanOrEqual(3);
    const human = await env.mr(['status']);
    expect(human.stdout).toMatch(/daemon running \(pid \d+/);
    expect(human.stdout).toMatch(/escalated\s+\S+\s+human/);
  });
});
