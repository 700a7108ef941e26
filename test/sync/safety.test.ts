import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Mailroom } from '../../src/mailroom.js';
import { transition } from '../../src/ops/lifecycle.js';
import type { FileDecision, Plan, Side, TaskDecision } from '../../src/sync/reconcile.js';
import { checkSafety } from '../../src/sync/safety.js';
import { daemonPass, where } from '../support/daemon.js';
import { queueTask } from '../support/task-file.js';
import { bareR0, type TwoMachines } from '../support/two-machines.js';

/** A plan deleting `tasks` tasks and `files` files on `side`, plus some harmless decisions. */
function plan(side: Side, tasks: number, files = 0): Plan {
  const t: TaskDecision[] = [{ id: 'keep', kind: 'same' }];
  for (let i = 0; i < tasks; i++) t.push({ id: `t${i}`, kind: 'delete', side });
  const f: FileDecision[] = [{ path: 'ra/AGENT.md', kind: 'take', from: 'local' }];
  for (let i = 0; i < files; i++) f.push({ path: `ra/inbox/t${i}.files/x`, kind: 'delete', side });
  return { tasks: t, files: f };
}

describe('checkSafety', () => {
  it.each([
    [
      'the far folder was emptied: every local task would go',
      plan('local', 40),
      { local: 40, remote: 0 },
      'local',
    ],
    [
      'this folder was emptied: every far task would go',
      plan('remote', 40),
      { local: 0, remote: 40 },
      'remote',
    ],
    ['tasks and files count together', plan('remote', 4, 4), { local: 10, remote: 10 }, 'remote'],
    ['just over half of a side', plan('local', 6), { local: 11, remote: 11 }, 'local'],
  ] as const)('refuses: %s', (_what, p, counts, side) => {
    const v = checkSafety(p, counts);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.side).toBe(side);
    expect(v.of).toBe(counts[side]);
    expect(v.deletes).toBe(p.tasks.length - 1 + p.files.length - 1);
    expect(v.reason).toMatch(/would be deleted/);
    expect(v.reason).toContain('.mailroom/sync/');
  });

  it.each([
    ['nothing deleted', plan('local', 0), { local: 100, remote: 100 }],
    ['a few deletes on a big tree', plan('local', 3), { local: 100, remote: 100 }],
    ['exactly half is not more than half', plan('remote', 5), { local: 10, remote: 10 }],
    ['a small tree (below minFiles) may lose everything', plan('local', 9), { local: 9, remote: 0 }],
  ] as const)('allows: %s', (_what, p, counts) => {
    expect(checkSafety(p, counts)).toEqual({ ok: true });
  });

  it('does not count far deletes of tasks this machine holds elsewhere (routed home), nor their result folders', () => {
    const t: TaskDecision[] = [];
    const f: FileDecision[] = [];
    for (let i = 0; i < 12; i++) {
      t.push({ id: `t${i}`, kind: 'delete', side: 'remote' });
      f.push({ path: `agents/ra/outbox/t${i}.files/result.txt`, kind: 'delete', side: 'remote' });
    }
    const p = { tasks: t, files: f };
    const elsewhere = new Set(Array.from({ length: 12 }, (_, i) => `t${i}`));
    expect(checkSafety(p, { local: 0, remote: 24 }).ok).toBe(false);
    expect(checkSafety(p, { local: 0, remote: 24 }, { elsewhere })).toEqual({ ok: true });
    // Only those ids: the far deletes of tasks missing from this whole machine still count.
    const some = new Set(['t0', 't1']);
    expect(checkSafety(p, { local: 0, remote: 24 }, { elsewhere: some }).ok).toBe(false);
    // And never on this machine's side: a far host's emptiness is not excused by local copies.
    const mirrored = {
      tasks: t.map((d) => ({ ...d, side: 'local' as const })),
      files: f.map((d) => ({ ...d, side: 'local' as const })),
    };
    expect(checkSafety(mirrored, { local: 24, remote: 0 }, { elsewhere }).ok).toBe(false);
  });

  it('honours maxDeleteFraction and minFiles', () => {
    expect(checkSafety(plan('local', 3), { local: 10, remote: 10 }, { maxDeleteFraction: 0.2 }).ok).toBe(
      false,
    );
    expect(checkSafety(plan('local', 3), { local: 4, remote: 4 }, { minFiles: 3 }).ok).toBe(false);
    expect(checkSafety(plan('local', 3), { local: 4, remote: 4 }).ok).toBe(true);
  });

  it('names where the items went missing', () => {
    const local = checkSafety(plan('local', 20), { local: 20, remote: 0 });
    const remote = checkSafety(plan('remote', 20), { local: 0, remote: 20 });
    expect(!local.ok && local.reason).toMatch(
      /20 of the 20 tasks and files on this machine .* missing on the far host/,
    );
    expect(!remote.ok && remote.reason).toMatch(
      /on the far host would be deleted, because they are missing on this machine/,
    );
  });
});

describe('the mass-delete guard in a sync pass, with the daemon routing between passes', () => {
  let sides: TwoMachines;
  let hub: string;
  let far: string;
  let hubMr: Mailroom;
  let farMr: Mailroom;
  beforeEach(async () => {
    ({ hub, far, hubMr, farMr } = sides = await bareR0());
  });
  afterEach(async () => sides.cleanup());

  // D1 (S1): the mass-delete guard counts the routine clean-up of tasks that were routed home as a
  // mass deletion, and then refuses every later pass: far-side work stops syncing for good.
  it('D1: many far tasks finished and routed home in one interval do not stop the sync', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `d1-${i}`);
    for (const id of ids) await queueTask(hubMr, 'r0', id);
    await sides.sync();
    for (const id of ids) await transition(farMr, id, 'done', { result: 'ok' });
    await sides.sync(); // pulls the 12 finished tasks into the hub's r0/outbox
    await daemonPass(hub); // the daemon routes them home to dispatch
    for (const id of ids) expect(await where(hub, id)).toEqual([`agents/dispatch/inbox/${id}.md`]);
    const r = await sides.sync(); // was: refused, "12 of the 12 tasks and files on the far host would be deleted"
    expect(r.deleted).toBe(12);
    for (const id of ids) expect(await where(far, id)).toEqual([]);
    // The guard still stands for tasks missing from the whole hub (an emptied folder).
    const more = Array.from({ length: 12 }, (_, i) => `d1-more-${i}`);
    for (const id of more) await queueTask(hubMr, 'r0', id);
    await sides.sync();
    for (const id of more) await rm(join(hub, `agents/r0/inbox/${id}.md`));
    await expect(sides.sync()).rejects.toThrow(
      /12 of the 12 tasks and files on the far host would be deleted/,
    );
    for (const id of more) expect(await where(far, id)).toEqual([`agents/r0/inbox/${id}.md`]);
  });
});
