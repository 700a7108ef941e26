// `next` claims atomically across processes; `next --wait` and `wait` sleep on file events and are
// woken by a task another process sends.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMailroom } from '../../src/mailroom.js';
import { sendTask } from '../../src/ops/send.js';
import { parseTask } from '../../src/task/parse.js';
import { BIN, newMailroom, runCli } from '../support/cli.js';
import { pollUntil } from '../support/poll.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['w', 'v', 'u']);
});
afterAll(async () => env.cleanup());

/** A CLI process left running, with its output so far and its exit. */
function start(args: string[]) {
  const env2 = { ...process.env };
  delete env2.MAILROOM_AGENT;
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args, '--root', env.root], {
    env: env2,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { child, exit, out: () => stdout, err: () => stderr };
}

describe('next: an atomic claim', () => {
  it('10 processes calling `next --as w` on 200 queued tasks: every task claimed exactly once', async () => {
    const mr = await openMailroom(env.root);
    const ids: string[] = [];
    for (let i = 0; i < 200; i++)
      ids.push((await sendTask(mr, { to: 'w', from: 'dispatch', title: `task ${i}` })).id);
    const claims: string[][] = [];
    const worker = async () => {
      const mine: string[] = [];
      for (;;) {
        const r = await runCli(['next', '--as', 'w', '--json', '--root', env.root]);
        if (r.code === 5) break;
        expect(r.code, r.stderr).toBe(0);
        mine.push(JSON.parse(r.stdout).task.id);
      }
      claims.push(mine);
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    const all = claims.flat();
    expect(all.length).toBe(200);
    expect(new Set(all).size).toBe(200);
    expect([...all].sort()).toEqual([...ids].sort());
    // And on disk: each task acked once, by w.
    for (const id of ids) {
      const parsed = parseTask(await readFile(join(env.root, `agents/w/inbox/${id}.md`), 'utf8'));
      if (!parsed.ok) throw new Error(parsed.problem.reason);
      expect(parsed.value.task.state).toBe('acked');
      expect(parsed.value.task.history.filter((h) => h.state === 'acked')).toHaveLength(1);
    }
  });

  it('takes urgent before older, and says "nothing queued" with exit 5 when the inbox is empty', async () => {
    const a = (await env.mr(['send', 'v', 'old normal', '--as', 'dispatch'])).stdout.trim();
    const b = (
      await env.mr(['send', 'v', 'new urgent', '--priority', 'urgent', '--as', 'dispatch'])
    ).stdout.trim();
    const first = JSON.parse((await env.mr(['next', '--as', 'v', '--json'])).stdout).task;
    const second = JSON.parse((await env.mr(['next', '--as', 'v', '--json'])).stdout).task;
    expect([first.id, second.id]).toEqual([b, a]);
    expect(first.state).toBe('acked');
    const none = await env.mr(['next', '--as', 'v', '--json']);
    expect(none.code).toBe(5);
    expect(JSON.parse(none.stdout)).toMatchObject({ schemaVersion: 1, task: null });
  });
});

describe('sleeping on file events', () => {
  it('`next --wait` is woken by a task sent from another process, and claims it', async () => {
    const waiter = start(['next', '--as', 'u', '--wait', '60s', '--json']);
    await pollUntil('next --wait to go to sleep', () => waiter.err().includes('waiting for a task'), 30_000);
    const sent = await env.mr(['send', 'u', 'wake up', '--as', 'dispatch']);
    expect(sent.code).toBe(0);
    expect(await waiter.exit).toBe(0);
    expect(JSON.parse(waiter.out()).task).toMatchObject({ id: sent.stdout.trim(), state: 'acked' });
  });

  it('`wait` is woken by a task sent from another process, prints it once, and a second wait times out (exit 5)', async () => {
    // A first look takes in what is there already.
    await env.mr(['wait', '--as', 'u', '--timeout', '1s']);
    const waiter = start(['wait', '--as', 'u', '--timeout', '60s', '--json']);
    await pollUntil('wait to go to sleep', () => waiter.err().includes('waiting for news'), 30_000);
    const sent = await env.mr(['send', 'u', 'news', '--as', 'dispatch']);
    expect(await waiter.exit).toBe(0);
    const { changes } = JSON.parse(waiter.out());
    expect(changes).toEqual([
      expect.objectContaining({ id: sent.stdout.trim(), change: 'new', from: 'dispatch' }),
    ]);
    const again = await env.mr(['wait', '--as', 'u', '--timeout', '300ms']);
    expect(again.code).toBe(5);
    expect(again.stdout).toBe('');
  });

  it("an agent's own moves are not news to it; a result coming back is", async () => {
    const id = (await env.mr(['send', 'w', 'for the cursor', '--as', 'u'])).stdout.trim();
    await env.mr(['wait', '--as', 'u', '--timeout', '1s']); // take in everything so far
    expect((await env.mr(['wait', '--as', 'w', '--timeout', '300ms'])).stdout).toContain(id); // new to w
    expect((await env.mr(['ack', id, '--as', 'w'])).code).toBe(0);
    expect((await env.mr(['wait', '--as', 'w', '--timeout', '300ms'])).code).toBe(5); // its own ack: not news
    expect((await env.mr(['done', id, '--result', '42', '--as', 'w'])).code).toBe(0);
    // The daemon routes it back; here the move it makes is done by hand.
    const { rename } = await import('node:fs/promises');
    await rename(join(env.root, `agents/w/outbox/${id}.md`), join(env.root, `agents/u/inbox/${id}.md`));
    const r = await env.mr(['wait', '--as', 'u', '--timeout', '5s', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).changes).toEqual([
      expect.objectContaining({ id, change: 'result', state: 'done' }),
    ]);
  });
});
