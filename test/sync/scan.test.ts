// The sync scan (src/sync/scan.ts) lists the far side one folder at a time: a task the far worker
// moves from one box to another between two listings is in neither listing. Such a task must never
// be read as deleted there, nor pushed back to its old place, nor get a second copy beside it (torture
// defect D11). Two real mailrooms, the far one behind an endpoint whose outbox listing is stale.

import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/endpoint/endpoint.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import type { Mailroom } from '../../src/mailroom.js';
import { transition } from '../../src/ops/lifecycle.js';
import { updateTask } from '../../src/store/tasks.js';
import { scanSide } from '../../src/sync/scan.js';
import { applyTaskEdit } from '../../src/task/edit.js';
import { parseTask } from '../../src/task/parse.js';
import { pipedAgent } from '../support/agent-pipe.js';
import { daemonPass, where } from '../support/daemon.js';
import { queueTask } from '../support/task-file.js';
import { bareR0, type TwoMachines } from '../support/two-machines.js';

let sides: TwoMachines;
let hub: string;
let far: string;
let hubMr: Mailroom;
let farMr: Mailroom;
beforeEach(async () => {
  ({ hub, far, hubMr, farMr } = sides = await bareR0());
});
afterEach(async () => sides.cleanup());

describe('a task moved on the far side while a pass lists it', () => {
  // D11 (S1, without any kill): a pass lists the far side one folder at a time, so a task the far
  // worker moves from inbox to outbox (`mailroom done`) between the two listings is seen in neither.
  // If the hub's copy differs from the base (edited on the hub, or only half synced by a previous pass
  // whose write to the far side was skipped), reconcile reads "absent there, changed here" as "take
  // the hub's" and pushes the hub's stale copy back into the far inbox. The far side then holds the
  // task twice; the scan keeps the inbox copy as the task (placeRank ranks an unfinished task in its
  // worker's inbox above a finished one in the outbox) and syncs the outbox copy as a plain file; the
  // daemon routes that home, and the stale copy stays in the worker's inbox on both sides for good.
  it('D11: a task moved on the far side while the pass lists it is not pushed back to its old place', async () => {
    await queueTask(hubMr, 'r0', 'd11-task');
    await sides.sync();
    await updateTask(hubMr, 'd11-task', (t) => ({
      text: applyTaskEdit(t.parsed.file, { set: { priority: 'high' } }),
    }));
    const real = localEndpoint(far);
    const staleOutbox = await real.list('agents/r0/outbox'); // the pass lists the outbox first ...
    await transition(farMr, 'd11-task', 'done', { result: 'done on the far side' }); // ... the worker finishes ...
    const racing: Endpoint = {
      label: real.label,
      list: (dir) => (dir === 'agents/r0/outbox' ? Promise.resolve(staleOutbox) : real.list(dir)), // ... then the inbox
      stat: (rel) => real.stat(rel),
      readFile: (rel) => real.readFile(rel),
      writeFileAtomic: (rel, data) => real.writeFileAtomic(rel, data),
      remove: (rel) => real.remove(rel),
      mkdirp: (rel) => real.mkdirp(rel),
      lock: (rel, o) => real.lock(rel, o),
      close: () => real.close(),
    };
    await sides.sync({ remote: racing });
    await sides.sync();
    await daemonPass(hub);
    await sides.sync();
    expect(await where(far, 'd11-task')).toEqual([]); // was: agents/r0/inbox/d11-task.md (stale)
    expect(await where(hub, 'd11-task')).toEqual(['agents/dispatch/inbox/d11-task.md']); // was: and r0/inbox
    // Both changes are kept: the far worker's (done) and the hub's edit made meanwhile.
    const t = parseTask(await readFile(join(hub, 'agents/dispatch/inbox/d11-task.md'), 'utf8'));
    if (!t.ok) throw new Error(t.problem.reason);
    expect(t.value.task.state).toBe('done');
    expect(t.value.task.priority).toBe('high');
  });

  // D11 through the far agent: its manifest is its own scan, which looks again only for the tasks its
  // previous scan saw. A far agent started after a crash (its cache file saved when the old one
  // exits, which may be later) may not know a task, and then a move during its listing hides it: the
  // hub read "gone there, unchanged here" and deleted its own copy (the next pass pulled it back).
  it('D11 over the far agent: a task its manifest missed is looked for by the base, not deleted here', async () => {
    await queueTask(hubMr, 'r0', 'd11c-task');
    await sides.sync();
    await transition(farMr, 'd11c-task', 'done', { result: 'done on the far side' });
    const real = localEndpoint(far);
    // The far agent's manifest, as a listing that missed the task while it moved.
    const missed = Object.assign(real, {
      scan: async (agents: readonly string[]) => {
        const scan = await scanSide(real, agents, {}, { clockMs: Date.now() });
        scan.tasks.delete('d11c-task');
        for (const path of Object.keys(scan.cache)) if (path.includes('d11c-task')) delete scan.cache[path];
        return scan;
      },
    });
    const r = await sides.sync({ remote: missed });
    expect(r.deleted).toBe(0); // was: 1, the hub's own copy
    expect(await where(hub, 'd11c-task')).toEqual(['agents/r0/outbox/d11c-task.md']); // was: []
    const t = parseTask(await readFile(join(hub, 'agents/r0/outbox/d11c-task.md'), 'utf8'));
    expect(t.ok && t.value.task.state).toBe('done');
    expect(await where(far, 'd11c-task')).toEqual(['agents/r0/outbox/d11c-task.md']);
  });

  // D11's race for a task with no base (a pass pushed it and died before saving its state): the
  // re-check of base tasks cannot help, so apply must not create a second copy beside one that
  // appeared in another box of the agent during the pass.
  it('D11: a task not in the base and moved on the far side during the listing is not pushed beside itself', async () => {
    await queueTask(hubMr, 'r0', 'd11b-task');
    await mkdir(join(far, 'agents/r0/inbox'), { recursive: true });
    await copyFile(join(hub, 'agents/r0/inbox/d11b-task.md'), join(far, 'agents/r0/inbox/d11b-task.md'));
    const real = localEndpoint(far);
    const staleOutbox = await real.list('agents/r0/outbox');
    await transition(farMr, 'd11b-task', 'done', { result: 'done on the far side' });
    const racing: Endpoint = {
      label: real.label,
      list: (dir) => (dir === 'agents/r0/outbox' ? Promise.resolve(staleOutbox) : real.list(dir)),
      stat: (rel) => real.stat(rel),
      readFile: (rel) => real.readFile(rel),
      writeFileAtomic: (rel, data) => real.writeFileAtomic(rel, data),
      remove: (rel) => real.remove(rel),
      mkdirp: (rel) => real.mkdirp(rel),
      lock: (rel, o) => real.lock(rel, o),
      close: () => real.close(),
    };
    const r = await sides.sync({ remote: racing });
    expect(r.problems.map((p) => p.reason).join('\n')).toMatch(/appeared at .*outbox.* during the sync/);
    expect(await where(far, 'd11b-task')).toEqual(['agents/r0/outbox/d11b-task.md']);
    await sides.sync(); // no base: both copies merged, one place on both sides
    const [place, ...more] = await where(far, 'd11b-task');
    expect(more).toEqual([]);
    expect(await where(hub, 'd11b-task')).toEqual([place]);
    const t = parseTask(await readFile(join(hub, place!), 'utf8'));
    expect(t.ok && t.value.task.state).toBe('done');
  });
  // The same race through a far agent: the create names the agent's other boxes as absent, so the
  // far agent looks just before it creates, in the one put request (no look at the boxes first).
  it('D11 through a far agent: the create checks the other boxes in the put, and no look is sent first', async () => {
    await queueTask(hubMr, 'r0', 'd11d-task');
    await mkdir(join(far, 'agents/r0/outbox'), { recursive: true });
    await copyFile(join(hub, 'agents/r0/inbox/d11d-task.md'), join(far, 'agents/r0/outbox/d11d-task.md'));
    const agent = await pipedAgent(far, ['r0']);
    try {
      const scan = agent.scan.bind(agent);
      const stat = agent.stat.bind(agent);
      const looked: string[] = [];
      // A far scan that missed the task (it moved there during the listing, before any base).
      agent.scan = async (agents) => {
        const s = await scan(agents);
        s.tasks.delete('d11d-task');
        s.files.delete('agents/r0/outbox/d11d-task.md');
        return s;
      };
      agent.stat = (rel) => {
        looked.push(rel);
        return stat(rel);
      };
      const r = await sides.sync({ remote: agent });
      expect(r.problems.map((p) => p.reason).join('\n')).toMatch(
        /outbox\/d11d-task\.md .*holds this task already/,
      );
      expect(looked.filter((rel) => rel.includes('d11d-task'))).toEqual([]);
      expect(await where(far, 'd11d-task')).toEqual(['agents/r0/outbox/d11d-task.md']);
    } finally {
      await agent.close();
    }
  });
});
