// The daemon's sync loop (daemon/sync-loop.ts) over a real sshd: local changes are pushed at once
// and a pending pass is never put off by more changes, so a task that keeps changing still reaches
// the far side while it changes (torture defect D9). The real daemon process.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nextFullMs } from '../../daemon/sync-loop.js';
import { type Mailroom, openMailroom } from '../../src/mailroom.js';
import { taskText, waitFor } from '../../torture/support.js';
import { describeWithSshd } from '../support/sshd.js';
import { queueTask } from '../support/task-file.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

describeWithSshd('the sync loop under a stream of local changes', (sshd) => {
  let sides: TwoMachines;
  let hub: string;
  let far: string;
  let hubMr: Mailroom;
  beforeEach(async () => {
    sides = await twoMachines({ agents: ['r0'], bare: true, sshd: sshd() });
    ({ hub, far } = sides);
    hubMr = await openMailroom(hub);
  });
  afterEach(async () => sides.cleanup());

  // D9 (S3): SyncLoops.localChange() reset the host's one timer to 300 ms on every change under the
  // host's agents' folders (a debounce with no upper bound), and that timer was also the interval
  // pull's. A task changing every 150 ms (an agent streaming progress notes) stopped all syncing with
  // the host until the stream ended. Now a pending pass is never pushed later, and changes during a
  // pass get one more pass right after it.
  it('D9: a steady stream of local changes is still pushed within a few seconds', async () => {
    const configPath = join(hub, 'mailroom.yaml');
    await writeFile(configPath, `${await readFile(configPath, 'utf8')}sync:\n  interval: 2s\n`);
    await queueTask(hubMr, 'r0', 'd9-task');
    const { DaemonProc } = await import('../../torture/support.js');
    const daemon = await DaemonProc.start(hub, ['--rescan', '1s'], { SSH_AUTH_SOCK: '' });
    try {
      const farPath = join(far, 'agents/r0/inbox/d9-task.md');
      const hubPath = join(hub, 'agents/r0/inbox/d9-task.md');
      await waitFor(
        'the first push',
        () =>
          readFile(farPath).then(
            () => true,
            () => false,
          ),
        15_000,
      );
      // Change the task every 150 ms for 8 s. While the stream goes on, the far copy must receive
      // versions from it, more than once (before the fix it kept the pre-stream copy until the
      // stream stopped). Counting distinct versions seen, not lag, keeps this free of timing bounds.
      const seen = new Set<number>();
      const end = Date.now() + 8_000;
      for (let i = 0; Date.now() < end; i++) {
        await writeFile(hubPath, taskText({ id: 'd9-task', from: 'dispatch', to: 'r0' }, `version ${i}\n`));
        await new Promise((r) => setTimeout(r, 150)); // the writer's pace, not a synchronisation
        const farText = await readFile(farPath, 'utf8').catch(() => '');
        const v = /version (\d+)/.exec(farText)?.[1];
        if (v !== undefined) seen.add(Number(v));
      }
      expect(seen.size).toBeGreaterThanOrEqual(2);
    } finally {
      await daemon.stop();
    }
  });
});

// The interval pass backs off while a followed host stays quiet (README, "Two machines").
describe('nextFullMs', () => {
  const interval = 60_000;
  it.each([
    // quiet full passes in a row, followed (the far side streams its changes), next full pass in
    [0, true, 60_000],
    [1, true, 120_000],
    [2, true, 240_000],
    [3, true, 300_000],
    [20, true, 300_000],
    // not followed (SFTP, no far mailroom): the interval pass is the only pull, never backed off
    [0, false, 60_000],
    [5, false, 60_000],
  ])('after %i quiet full passes, followed %s: %i ms', (quiet, followed, next) => {
    expect(nextFullMs(interval, quiet, followed)).toBe(next);
  });
});
