// Crash convergence: the daemon is SIGKILLed again and again while it routes 200 finished tasks, and
// restarted each time. Whatever moment a kill lands on (mid-move, between a move and its event, while
// holding task locks), the end state must be the one a clean run gives: every task exactly once, in
// its sender's inbox, byte for byte as it was written; never two routings of one task.

import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { renderTask } from '../../src/task/render.js';
import type { Task } from '../../src/task/schema.js';
import { newMailroom } from '../support/cli.js';
import { type DaemonHandle, events, locations, startDaemon } from '../support/daemon.js';
import { pollUntil } from '../support/poll.js';

const TASKS = 200;
/** Kill the n-th daemon as soon as it has routed this many more tasks (its first, then later ones). */
const KILL_AFTER = [1, 1, 5, 15, 40];

let env: Awaited<ReturnType<typeof newMailroom>>;
let daemon: DaemonHandle | undefined;
beforeEach(async () => {
  env = await newMailroom(['research']);
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await env.cleanup();
});

/** A task research finished for dispatch, as `mailroom done` would leave it in research's outbox. */
function finishedTask(n: number): { id: string; text: string } {
  const id = `20261122-101500-${n.toString(36).padStart(4, '0')}`;
  const at = (s: number) =>
    `2026-11-22T10:${String(15 + Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}Z`;
  const task: Task = {
    id,
    title: `Summarise article ${n}`,
    from: 'dispatch',
    to: 'research',
    state: 'done',
    priority: n % 7 === 0 ? 'high' : 'normal',
    created: at(0),
    attempt: 1,
    max_attempts: 3,
    ack_timeout: '5m',
    run_timeout: '30m',
    history: [
      { state: 'queued', at: at(0), by: 'dispatch' },
      { state: 'acked', at: at(5), by: 'research' },
      { state: 'running', at: at(10), by: 'research' },
      { state: 'running', at: at(40), by: 'research', note: `page ${n}/200` },
      { state: 'done', at: at(90), by: 'research' },
    ],
  };
  const body = `Summarise article ${n} in five lines.\n\n## Result\n\nArticle ${n} says ${'x'.repeat(n % 50)}.\n`;
  return { id, text: renderTask(task, body) };
}

const passes = async () =>
  (JSON.parse(await readFile(join(env.root, '.mailroom/daemon.json'), 'utf8')) as { passes: number }).passes;
/** Wait for `n` more passes of the running daemon; the second one started after we asked. */
async function morePasses(n: number): Promise<void> {
  const from = await passes();
  await pollUntil(`${n} more daemon passes`, async () => (await passes()) >= from + n, 30_000);
}

const routedCount = async () => (await events(env.root)).filter((e) => e.type === 'task.routed').length;
const outboxTasks = async () =>
  (await readdir(join(env.root, 'agents/research/outbox'))).filter(
    (n) => n.endsWith('.md') && !n.startsWith('.'),
  );

describe('SIGKILL while routing, restart, repeat', () => {
  it(`${TASKS} finished tasks end up in the sender's inbox exactly once, bytes unchanged`, async () => {
    const written = new Map<string, string>();
    for (let n = 0; n < TASKS; n++) {
      const { id, text } = finishedTask(n);
      expect(parseTask(text, id).ok).toBe(true);
      written.set(id, text);
      await writeFile(join(env.root, `agents/research/outbox/${id}.md`), text);
    }

    const story: string[] = [];
    for (const [round, more] of KILL_AFTER.entries()) {
      const left = (await outboxTasks()).length;
      if (left === 0) {
        story.push(`round ${round + 1}: nothing left to route`);
        break;
      }
      const before = await routedCount();
      const t0 = Date.now();
      daemon = await startDaemon(env.root, ['--rescan', '1s']);
      // Kill as soon as this daemon has routed `more` tasks (or, if it outran us, has nothing left).
      await pollUntil(
        `daemon ${round + 1} to route ${more} task(s)`,
        async () => (await routedCount()) >= before + more || (await outboxTasks()).length === 0,
        45_000,
        5,
      );
      await daemon.kill();
      daemon = undefined;
      story.push(
        `round ${round + 1}: ${left} in the outbox, killed after ${(await routedCount()) - before} routed (${Date.now() - t0} ms)`,
      );
    }

    // The last daemon runs to the end.
    const t1 = Date.now();
    daemon = await startDaemon(env.root, ['--rescan', '1s']);
    await pollUntil(
      'every task in the sender inbox, once',
      async () => {
        const where = await locations(env.root);
        return (
          where.size === TASKS &&
          [...where.values()].every((w) => w.length === 1 && w[0] === 'dispatch/inbox')
        );
      },
      90_000,
    );
    story.push(`last daemon: done in ${Date.now() - t1} ms`);
    console.log(`restart: ${story.join('; ')}`);

    // Where everything is: each id once, in dispatch's inbox; nothing left in research's boxes.
    const where = await locations(env.root);
    expect([...where.keys()].sort()).toEqual([...written.keys()].sort());
    for (const [id, places] of where) expect(places, id).toEqual(['dispatch/inbox']);
    expect(await outboxTasks()).toEqual([]);

    // Routing moves files; it never rewrites them.
    for (const [id, text] of written) {
      const now = await readFile(join(env.root, `agents/dispatch/inbox/${id}.md`), 'utf8');
      expect(now, id).toBe(text);
      expect(parseTask(now, id).ok, id).toBe(true);
    }

    // Events: a kill between a move and its log line may lose one, but no task is routed twice. (A
    // move is logged after it is done; once two more passes have finished, every event is written.)
    await morePasses(2);
    const log = await events(env.root);
    const routed = log.filter((e) => e.type === 'task.routed');
    const perId = new Map<string, number>();
    for (const e of routed) perId.set(e.id!, (perId.get(e.id!) ?? 0) + 1);
    expect([...perId.entries()].filter(([, n]) => n > 1)).toEqual([]);
    expect([...perId.keys()].every((id) => written.has(id))).toBe(true);
    expect(log.filter((e) => e.type === 'task.unreadable')).toEqual([]);
    console.log(`restart: ${routed.length} task.routed events for ${TASKS} tasks`);

    // And the converged state stays put: more passes route nothing again.
    await morePasses(2);
    expect(await routedCount()).toBe(routed.length);

    // Nothing a person must look at: no unreadable or duplicated task (stale locks left by the kills
    // are doctor's business and are not checked here).
    const doctor = JSON.parse((await env.mr(['doctor', '--json'])).stdout) as {
      findings: { check: string; problem: string }[];
    };
    expect(doctor.findings.filter((f) => f.check !== 'locks')).toEqual([]);
  }, 240_000);
});
