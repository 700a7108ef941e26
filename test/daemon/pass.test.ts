// The daemon's pass (daemon/pass.ts) on a task it cannot route: the failure is reported once and
// leaves nothing a watcher would take for a change, so the daemon does not pass again and again
// (torture defect D10). The pass function over a real hub, then the real daemon process.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PassState } from '../../daemon/pass.js';
import { ReportBook } from '../../daemon/reports.js';
import { watchPaths } from '../../daemon/watch.js';
import type { Mailroom } from '../../src/mailroom.js';
import { readEvents, taskText, waitFor } from '../../torture/support.js';
import { daemonPass, where } from '../support/daemon.js';
import { bareR0, type TwoMachines } from '../support/two-machines.js';

let sides: TwoMachines;
let hub: string;
let hubMr: Mailroom;
beforeEach(async () => {
  ({ hub, hubMr } = sides = await bareR0());
});
afterEach(async () => sides.cleanup());

describe('a task the daemon cannot route', () => {
  // D10 (S1): a finished task the daemon cannot route because its destination exists (a duplicate
  // such as D2 leaves) makes it pass again and again: every attempt creates and removes the folder
  // `<id>.files` in the destination box (moveDirIfPresent claims the name first), the watcher reports
  // that as a change, and the change asks for another pass. With --rescan 10s it made 118 passes in
  // 6 s. And since runDaemon starts the sync loops only after the first pass() returns, which keeps
  // re-running while such hints arrive, in the torture the restarted daemon never started syncing.
  it('D10: an unroutable duplicate does not make the daemon pass continuously', async () => {
    // Two different versions (identical copies are healed now, like an interrupted move).
    const done = (body: string) =>
      taskText({ id: 'dup', from: 'dispatch', to: 'human', state: 'done' }, body);
    await writeFile(join(hub, 'agents/dispatch/inbox/dup.md'), done('One version.\n'));
    await writeFile(join(hub, 'agents/human/outbox/dup.md'), done('Another version.\n'));
    // The pass itself: the failed route leaves no trace a watcher could see (it claimed and released
    // dispatch/inbox/dup.files), is logged once, and stays a problem of every pass.
    const hints: string[] = [];
    const watcher = await watchPaths([join(hub, 'agents')], (p) => hints.push(p));
    try {
      const state: PassState = { reports: new ReportBook(hubMr), known: new Map() };
      await daemonPass(hub, state);
      const last = await daemonPass(hub, state);
      expect(last.problems.map((p) => p.reason)).toContain(
        'cannot move task dup: agents/dispatch/inbox/dup.md already exists (two copies; compare them and remove the stale one)',
      );
      await writeFile(join(hub, 'agents/human/inbox/sentinel.txt'), 'x');
      await waitFor('the sentinel hint', () => hints.some((h) => h.endsWith('sentinel.txt')), 10_000);
      expect(hints.filter((h) => !h.endsWith('sentinel.txt'))).toEqual([]);
    } finally {
      await watcher.close();
    }
    expect((await readEvents(hub)).filter((e) => e.type === 'task.unroutable').map((e) => e.path)).toEqual([
      'agents/human/outbox/dup.md',
    ]);
    expect(await where(hub, 'dup')).toEqual(['agents/dispatch/inbox/dup.md', 'agents/human/outbox/dup.md']);
    // The daemon: idle between rescans, not passing again and again.
    const { DaemonProc } = await import('../../torture/support.js');
    const daemon = await DaemonProc.start(hub, ['--rescan', '10s']);
    try {
      await new Promise((r) => setTimeout(r, 5_000));
      const passes = (await daemon.status())?.passes ?? 0;
      expect(passes).toBeLessThanOrEqual(10); // was: about a hundred
    } finally {
      await daemon.stop();
    }
  });
});
