// A fifo swapped into an inbox (rename over a task file between the daemon's lstat and its read) must
// never block the daemon (docs/spec.md §6): reads open with O_NONBLOCK and check the type on the open
// descriptor. A real daemon process, a real swapper process: routing goes on, SIGTERM still stops it.

import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMailroom } from '../support/cli.js';
import { type DaemonHandle, locations, startDaemon } from '../support/daemon.js';
import { pollUntil } from '../support/poll.js';
import { queuedTaskFile } from '../support/task-file.js';

describe('a fifo swapped into an inbox', () => {
  let env: Awaited<ReturnType<typeof newMailroom>>;
  let daemon: DaemonHandle | undefined;
  let swapper: ChildProcess | undefined;
  let swaps = 0;
  beforeAll(async () => {
    env = await newMailroom(['research']);
  });
  afterAll(async () => {
    swapper?.kill('SIGKILL');
    await daemon?.kill().catch(() => {});
    await env.cleanup();
  });

  it('never stops the next pass: routing goes on while a swapper renames a fifo and a task in turn', async () => {
    const inbox = join(env.root, 'agents/research/inbox');
    const task = queuedTaskFile('swap', 'swapped');
    await writeFile(join(inbox, '.swap-task'), task);
    daemon = await startDaemon(env.root);
    // Each turn: a new fifo renamed over swap.md, then a new copy of the task renamed over it.
    const script = `cd "$1" && while true; do rm -f .f && mkfifo .f && mv -f .f swap.md && cp .swap-task .t && mv -f .t swap.md && echo s; done`;
    swapper = spawn('bash', ['-c', script, 'swapper', inbox], { stdio: ['ignore', 'pipe', 'ignore'] });
    swapper.stdout!.on('data', (d: Buffer) => (swaps += d.toString().split('\n').length - 1));
    await pollUntil('the swapper to run', () => swaps > 50, 10_000);
    for (let round = 0; round < 4; round++) {
      const swapsBefore = swaps;
      const sent = await env.mr(['send', 'research', `round ${round}`, '--as', 'dispatch']);
      const id = sent.stdout.trim();
      for (const args of [
        ['ack', id],
        ['start', id],
        ['done', id, '--result', 'ok'],
      ])
        expect((await env.mr(args)).code).toBe(0);
      await pollUntil(
        `the daemon to route round ${round} home while ${swaps} swaps ran`,
        async () => (await locations(env.root)).get(id)?.join() === 'dispatch/inbox',
        20_000,
      );
      // The swapper ran all through the round (a count, not a rate: no threshold that load can break).
      expect(swaps, `round ${round}`).toBeGreaterThan(swapsBefore);
    }
    swapper.kill('SIGKILL');
    // A daemon stuck in open() would ignore this and never exit.
    const code = await Promise.race([
      daemon.stop(),
      pollUntil('the daemon to exit after SIGTERM', () => false, 15_000).catch(() => 'stuck'),
    ]);
    expect(code).toBe(0);
    daemon = undefined;
  });
});
