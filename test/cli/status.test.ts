// `mailroom status` (issue 13's fixes), each named after the defect it catches: a resolved escalation
// stayed under "needs attention" for ever; a refused hand edit the daemon reported never showed; agents
// had no alive/down; nothing let a monitor ask "does something need a person?".

import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMailroom } from '../../src/mailroom.js';
import { escalate } from '../../src/ops/lifecycle.js';
import { newMailroom } from '../support/cli.js';
import { events, startDaemon } from '../support/daemon.js';
import { pollUntil } from '../support/poll.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeEach(async () => {
  env = await newMailroom(['research']);
});
afterEach(async () => env.cleanup());

interface Status {
  needsYou: { kind: string; id?: string; path: string; why: string }[];
  escalated: { id: string }[];
  unreadable: { path: string; reason: string; kind: string }[];
  agents: { name: string; state: string; lastSeen?: string }[];
}

async function status(): Promise<Status> {
  const r = await env.mr(['status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Status;
}

async function send(to: string, title: string, extra: string[] = []): Promise<string> {
  const r = await env.mr(['send', to, title, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe('status', () => {
  it('a resolved escalation leaves needs attention', async () => {
    const id = await send('research', 'stalls');
    expect((await env.mr(['start', id, '--as', 'research'])).code).toBe(0);
    // What the supervisor does to a stalled task: it goes to human, marked escalated.
    await escalate(await openMailroom(env.root), id, 'no progress for 31m (run_timeout 30m)');
    expect((await status()).escalated.map((e) => e.id)).toEqual([id]);
    // The person finishes it: the escalation is resolved, whatever box the file sits in now.
    expect((await env.mr(['done', id, '--as', 'human', '--result', 'did it myself'])).code).toBe(0);
    const after = await status();
    expect(after.escalated).toEqual([]);
    expect(after.needsYou).toEqual([]);
  });

  it('lists a refused hand edit the daemon reported, until it is fixed', async () => {
    const id = await send('research', 'edited by hand');
    expect((await env.mr(['start', id, '--as', 'research'])).code).toBe(0);
    const daemon = await startDaemon(env.root);
    try {
      const path = `${env.root}/agents/research/inbox/${id}.md`;
      const good = await readFile(path, 'utf8');
      await pollUntil(
        'the daemon to see the task running',
        async () => {
          const known = await readFile(`${env.root}/.mailroom/known-states.json`, 'utf8').catch(() => '{}');
          return JSON.parse(known)[id]?.state === 'running';
        },
        10_000,
      );
      // Backwards: running -> queued by an edit. The file still parses; only the daemon can tell.
      await writeFile(path, good.replace('state: running', 'state: queued'));
      await pollUntil(
        'the report',
        async () => (await events(env.root)).some((e) => e.type === 'task.unreadable'),
        15_000,
      );
      const s = await status();
      const item = s.needsYou.find((n) => n.path === `agents/research/inbox/${id}.md`);
      expect(item?.kind).toBe('unreadable');
      expect(item?.why).toMatch(/state changed from running to queued/);
      expect((await env.mr(['status'])).stdout).toMatch(/unreadable\s+agents\/research\/inbox/);
      // Fixed by hand: the daemon says so, and the item leaves by itself.
      await writeFile(path, good);
      await pollUntil(
        'the fix',
        async () => (await events(env.root)).some((e) => e.type === 'task.readable'),
        15_000,
      );
      expect((await status()).needsYou).toEqual([]);
    } finally {
      await daemon.stop();
    }
  });

  it('shows agents alive or down', async () => {
    const id = await send('research', 'nobody picks this up', ['--ack-timeout', '1s']);
    const down = await pollUntil(
      'research to be taken for down',
      async () => (await status()).agents.find((a) => a.name === 'research' && a.state === 'down'),
      10_000,
      200,
    );
    expect(down).toBeDefined();
    expect((await env.mr(['start', id, '--as', 'research'])).code).toBe(0);
    const s = await status();
    const research = s.agents.find((a) => a.name === 'research')!;
    expect(research.state).toBe('working');
    expect(research.lastSeen).toBeDefined();
    expect(s.agents.find((a) => a.name === 'human')?.state).toBe('person');
  });

  it('status --check exits non-zero when something needs a human', async () => {
    expect((await env.mr(['status', '--check'])).code).toBe(0);
    const asked = await env.mr(['ask', 'human', 'Which key?', '--as', 'research']);
    const id = asked.stdout.trim();
    const r = await env.mr(['status', '--check']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/question\s+\S+\s+human/);
    expect((await env.mr(['answer', id, 'the staging one', '--as', 'human'])).code).toBe(0);
    expect((await env.mr(['status', '--check'])).code).toBe(0);
  });
});
