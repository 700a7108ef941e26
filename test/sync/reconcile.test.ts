import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Mailroom } from '../../src/mailroom.js';
import { archive, escalate, transition } from '../../src/ops/lifecycle.js';
import {
  type FileDecision,
  type FileVersion,
  type Plan,
  reconcile,
  type Side,
  type SyncInputs,
  type TaskDecision,
  type TaskVersion,
} from '../../src/sync/reconcile.js';
import { loadSyncState } from '../../src/sync/state.js';
import { parseTask } from '../../src/task/parse.js';
import { daemonPass, where } from '../support/daemon.js';
import { queueTask } from '../support/task-file.js';
import { bareR0, type TwoMachines } from '../support/two-machines.js';

// Versions are written `HASH@PLACE`: the content hash, then a place whose loc and rank are below.
// `-` is "absent on this side"; as a base, `lost` means there is no base snapshot at all.
const PLACES: Record<string, { loc: string; rank: number }> = {
  in: { loc: 'ra/inbox', rank: 1 },
  out: { loc: 'ra/outbox', rank: 2 },
  out2: { loc: 'rb/outbox', rank: 2 }, // same rank as `out`: for ties
  back: { loc: 'dispatch/inbox', rank: 3 },
};

function version(spec: string): TaskVersion | undefined {
  if (spec === '-') return undefined;
  const [hash, place] = spec.split('@');
  const p = PLACES[place ?? ''];
  if (!hash || !p) throw new Error(`bad version spec ${spec}`);
  return { hash, loc: p.loc, rank: p.rank };
}

const empty = () => ({ tasks: new Map<string, TaskVersion>(), files: new Map<string, FileVersion>() });
/** Inputs built from Maps (reconcile reads any Lookup; these tests fill Maps). */
type MapInputs = Omit<SyncInputs, 'base' | 'local' | 'remote'> & {
  base: ReturnType<typeof empty> | undefined;
  local: ReturnType<typeof empty>;
  remote: ReturnType<typeof empty>;
};

function taskInputs(base: string, local: string, remote: string, id = 't1'): SyncInputs {
  const inputs = { base: base === 'lost' ? undefined : empty(), local: empty(), remote: empty() };
  const put = (snap: { tasks: Map<string, TaskVersion> } | undefined, spec: string) => {
    const v = snap && version(spec);
    if (v) snap.tasks.set(id, v);
  };
  put(inputs.base, base);
  put(inputs.local, local);
  put(inputs.remote, remote);
  return inputs;
}

function fileInputs(base: string, local: string, remote: string, path = 'ra/AGENT.md'): SyncInputs {
  const inputs = { base: base === 'lost' ? undefined : empty(), local: empty(), remote: empty() };
  const put = (snap: { files: Map<string, FileVersion> } | undefined, spec: string) => {
    if (snap && spec !== '-') snap.files.set(path, { hash: spec });
  };
  put(inputs.base, base);
  put(inputs.local, local);
  put(inputs.remote, remote);
  return inputs;
}

/** `same` | `take local out` | `merge back` | `delete remote` | `none` -> the decision for id t1. */
function taskDecision(spec: string, id = 't1'): TaskDecision | undefined {
  const [kind, a, b] = spec.split(' ');
  if (kind === 'none') return undefined;
  if (kind === 'same') return { id, kind };
  if (kind === 'take') return { id, kind, from: a as Side, loc: PLACES[b!]!.loc };
  if (kind === 'merge') return { id, kind, loc: PLACES[a!]!.loc };
  if (kind === 'delete') return { id, kind, side: a as Side };
  throw new Error(`bad decision spec ${spec}`);
}

function fileDecision(spec: string, path = 'ra/AGENT.md'): FileDecision | undefined {
  const [kind, a] = spec.split(' ');
  if (kind === 'none') return undefined;
  if (kind === 'same' || kind === 'conflict') return { path, kind };
  if (kind === 'take') return { path, kind, from: a as Side };
  if (kind === 'delete') return { path, kind, side: a as Side };
  throw new Error(`bad decision spec ${spec}`);
}

//  what                                              base     local     remote    expected
const TASK_CASES: [string, string, string, string, string][] = [
  ['unchanged', 'A@in', 'A@in', 'A@in', 'same'],
  ['local edit', 'A@in', 'B@in', 'A@in', 'take local in'],
  ['remote edit', 'A@in', 'A@in', 'B@in', 'take remote in'],
  ['both edit to the same bytes', 'A@in', 'B@in', 'B@in', 'same'],
  ['both edit differently', 'A@in', 'B@in', 'C@in', 'merge in'],
  ['local move', 'A@in', 'A@out', 'A@in', 'take local out'],
  ['remote move', 'A@in', 'A@in', 'A@out', 'take remote out'],
  ['local move vs remote edit: remote content at local loc', 'A@in', 'A@out', 'B@in', 'take remote out'],
  ['local edit vs remote move: local content at remote loc', 'A@in', 'B@in', 'A@out', 'take local out'],
  ['local move+edit, remote unchanged', 'A@in', 'B@out', 'A@in', 'take local out'],
  ['local move+edit vs remote edit: merge at local loc', 'A@in', 'B@out', 'C@in', 'merge out'],
  ['local edit vs remote move+edit: merge at remote loc', 'A@in', 'B@in', 'C@out', 'merge out'],
  ['both move to the same loc', 'A@in', 'A@out', 'A@out', 'same'],
  ['move vs move: remote further along', 'A@in', 'A@out', 'A@back', 'take remote back'],
  ['move vs move: local further along', 'A@in', 'A@back', 'A@out', 'take local back'],
  ['move vs move: equal rank, local wins', 'A@in', 'A@out', 'A@out2', 'take local out'],
  ['move vs move: equal rank, local wins (mirror)', 'A@in', 'A@out2', 'A@out', 'take local out2'],
  [
    'move vs move with equal edits: take the side at the chosen loc',
    'A@in',
    'B@out',
    'B@back',
    'take remote back',
  ],
  ['move+edit vs move+edit: merge at the higher rank', 'A@in', 'B@back', 'C@out', 'merge back'],
  ['local delete, remote unchanged', 'A@in', '-', 'A@in', 'delete remote'],
  ['remote delete, local unchanged', 'A@in', 'A@in', '-', 'delete local'],
  ['local delete vs remote edit: the edit wins', 'A@in', '-', 'B@in', 'take remote in'],
  ['remote delete vs local edit: the edit wins', 'A@in', 'B@in', '-', 'take local in'],
  ['local delete vs remote move: the move wins', 'A@in', '-', 'A@out', 'take remote out'],
  ['remote delete vs local move: the move wins', 'A@in', 'A@out', '-', 'take local out'],
  ['both delete: nothing to do', 'A@in', '-', '-', 'none'],
  ['create on local only', '-', 'A@in', '-', 'take local in'],
  ['create on remote only', '-', '-', 'A@in', 'take remote in'],
  ['create-create, same content and loc', '-', 'A@in', 'A@in', 'same'],
  ['create-create, same content, locs differ: higher rank', '-', 'A@in', 'A@out', 'take remote out'],
  ['create-create, different content: merge at the higher rank', '-', 'A@out', 'B@in', 'merge out'],
  ['lost base, equal on both', 'lost', 'A@in', 'A@in', 'same'],
  ['lost base, different content: merge, loc by rank', 'lost', 'A@in', 'B@out', 'merge out'],
  ['lost base, different content, equal rank: local loc', 'lost', 'A@out2', 'B@out', 'merge out2'],
  ['lost base, same content, locs differ: take the higher rank', 'lost', 'A@back', 'A@in', 'take local back'],
  ['lost base, same content, equal rank: take local', 'lost', 'A@out', 'A@out2', 'take local out'],
  ['lost base, local only: copy, never delete', 'lost', 'A@in', '-', 'take local in'],
  ['lost base, remote only: copy, never delete', 'lost', '-', 'A@in', 'take remote in'],
];

describe('reconcile: tasks', () => {
  it.each(TASK_CASES)('%s (base %s, local %s, remote %s) -> %s', (_what, base, local, remote, expected) => {
    const want = taskDecision(expected);
    expect(reconcile(taskInputs(base, local, remote)).tasks).toEqual(want ? [want] : []);
  });
});

//  what                                        base    local   remote  expected
const FILE_CASES: [string, string, string, string, string][] = [
  ['unchanged', 'A', 'A', 'A', 'same'],
  ['local edit', 'A', 'B', 'A', 'take local'],
  ['remote edit', 'A', 'A', 'B', 'take remote'],
  ['both edit to the same bytes', 'A', 'B', 'B', 'same'],
  ['both edit differently: conflict', 'A', 'B', 'C', 'conflict'],
  ['local delete, remote unchanged', 'A', '-', 'A', 'delete remote'],
  ['remote delete, local unchanged', 'A', 'A', '-', 'delete local'],
  ['local delete vs remote edit: the edit wins', 'A', '-', 'B', 'take remote'],
  ['remote delete vs local edit: the edit wins', 'A', 'B', '-', 'take local'],
  ['both delete: nothing to do', 'A', '-', '-', 'none'],
  ['create on local only', '-', 'A', '-', 'take local'],
  ['create on remote only', '-', '-', 'A', 'take remote'],
  ['create-create, same bytes', '-', 'A', 'A', 'same'],
  ['create-create, different bytes: conflict', '-', 'A', 'B', 'conflict'],
  ['lost base, equal', 'lost', 'A', 'A', 'same'],
  ['lost base, different: conflict', 'lost', 'A', 'B', 'conflict'],
  ['lost base, local only: copy, never delete', 'lost', 'A', '-', 'take local'],
  ['lost base, remote only: copy, never delete', 'lost', '-', 'A', 'take remote'],
];

// A task that left the host's folders on this machine (routed home, escalated) and that this machine
// still holds elsewhere (`back`, dispatch's inbox); the far side still has a copy.
//  what                                                         base    local   remote  elsewhere expected
const AWAY_CASES: [string, string, string, string, string, string][] = [
  ['far copy unchanged since the base: routine clean-up', 'A@out', '-', 'A@out', 'B@back', 'delete remote'],
  [
    'far copy equals the copy elsewhere (a pass died before saving)',
    'A@in',
    '-',
    'B@out',
    'B@back',
    'delete remote',
  ],
  ['far copy changed (finished while escalated): fold it in', 'A@in', '-', 'B@out', 'C@back', 'fold back'],
  ['far copy moved only: fold it in', 'A@in', '-', 'A@out', 'C@back', 'fold back'],
  ['never synced, same bytes: nothing to lose', '-', '-', 'B@out', 'B@back', 'delete remote'],
  ['never synced, different bytes: both left alone', '-', '-', 'B@out', 'C@back', 'keep'],
  ['base lost, different bytes: both left alone', 'lost', '-', 'B@out', 'C@back', 'keep'],
  ['no base but synced before (the ledger): fold it in', '-', '-', 'B@out', 'C@back', 'fold back synced'],
  [
    'base lost but synced before (the ledger): fold it in',
    'lost',
    '-',
    'B@out',
    'C@back',
    'fold back synced',
  ],
  ['no base, synced before, same bytes: removed', '-', '-', 'B@out', 'B@back', 'delete remote synced'],
  [
    'a copy in the host folders too: elsewhere plays no part',
    'A@in',
    'A@in',
    'B@in',
    'C@back',
    'take remote in',
  ],
  ['absent on the far side: elsewhere plays no part', 'A@in', '-', '-', 'C@back', 'none'],
];

describe('reconcile: a task this machine holds outside the host folders', () => {
  it.each(AWAY_CASES)('%s (base %s, local %s, remote %s, elsewhere %s) -> %s', (_w, b, l, r, e, expected) => {
    const synced = expected.endsWith(' synced');
    const inputs = {
      ...taskInputs(b, l, r),
      elsewhere: new Map([['t1', version(e)!]]),
      ...(synced ? { synced: new Set(['t1']) } : {}),
    };
    expected = expected.replace(/ synced$/, '');
    const [kind, a] = expected.split(' ');
    const d = reconcile(inputs).tasks[0];
    if (kind === 'fold') expect(d).toEqual({ id: 't1', kind: 'fold', loc: PLACES[a!]!.loc });
    else if (kind === 'keep')
      expect(d).toMatchObject({
        id: 't1',
        kind: 'keep',
        reason: expect.stringMatching(/no record of syncing it/),
      });
    else expect(d).toEqual(taskDecision(expected));
  });

  it('nothing is lost over every (base, remote, elsewhere) combination', () => {
    const DOMAIN = ['A@in', 'A@out', 'B@in', 'B@out', 'C@out'];
    for (const b of ['lost', '-', ...DOMAIN])
      for (const r of DOMAIN)
        for (const eh of ['A', 'B', 'C'])
          for (const synced of [false, true]) {
            const at = `base ${b}, remote ${r}, elsewhere ${eh}@back, synced before: ${synced}`;
            const e = version(`${eh}@back`)!;
            const inputs = {
              ...taskInputs(b, '-', r),
              elsewhere: new Map([['t1', e]]),
              synced: new Set(synced ? ['t1'] : []),
            };
            const d = reconcile(inputs).tasks[0];
            const base = b === 'lost' ? undefined : version(b);
            const rv = version(r)!;
            expect(d, at).toBeDefined();
            if (!d) continue;
            // Never pulled back into the host folders as a second copy.
            expect(d.kind, at).not.toBe('take');
            expect(d.kind, at).not.toBe('merge');
            // The far copy goes only when its bytes are kept: unchanged since the base, or equal to the
            // copy elsewhere; a changed far copy is folded into the copy elsewhere, never just dropped.
            if (d.kind === 'delete') {
              expect(d.side, at).toBe('remote');
              expect(rv.hash === e.hash || (base?.hash === rv.hash && base.loc === rv.loc), at).toBe(true);
            }
            // Without a base for the id, the far host writes into this machine's copy only when this
            // machine synced that task with it before (the sent ledger).
            if (d.kind === 'fold') expect(base !== undefined || synced, at).toBe(true);
            if (synced && rv.hash !== e.hash) expect(d.kind, at).not.toBe('keep');
          }
  });
});

describe('a task this machine holds outside the host folders, in sync passes with the daemon routing', () => {
  let sides: TwoMachines;
  let hub: string;
  let far: string;
  let hubMr: Mailroom;
  let farMr: Mailroom;
  beforeEach(async () => {
    ({ hub, far, hubMr, farMr } = sides = await bareR0());
  });
  afterEach(async () => sides.cleanup());

  // D2 (S1): a sync pass killed after it pulled a finished task but before it saved the sync state;
  // the daemon routes the task home; the next pass pulls the far copy again. The hub then holds the
  // task twice (different files, same bytes) for good: the daemon cannot route the second copy and
  // reports "exists in 2 places with different content" on every pass; the far copy is never removed.
  it('D2: a routed task is not pulled back after a pass that died before saving its state', async () => {
    await queueTask(hubMr, 'r0', 'd2-task');
    await sides.sync();
    await transition(farMr, 'd2-task', 'done', { result: 'ok' });
    const statePath = join(hub, '.mailroom/sync/vps.json');
    await copyFile(statePath, `${statePath}.before`);
    await sides.sync(); // pulls the finished task ...
    await copyFile(`${statePath}.before`, statePath); // ... and "dies" before its state is saved
    await daemonPass(hub);
    expect(await where(hub, 'd2-task')).toEqual(['agents/dispatch/inbox/d2-task.md']);
    await sides.sync();
    // The defect itself: the pass pulls the far copy back. (The daemon now folds two copies with the
    // same bytes like an interrupted move, which hides it below; a far edit would not be folded.)
    expect(await where(hub, 'd2-task')).toEqual(['agents/dispatch/inbox/d2-task.md']); // was: also r0/outbox
    await daemonPass(hub);
    await sides.sync();
    expect(await where(hub, 'd2-task')).toEqual(['agents/dispatch/inbox/d2-task.md']); // was: also r0/outbox
    expect(await where(far, 'd2-task')).toEqual([]);
    const t = parseTask(await readFile(join(hub, 'agents/dispatch/inbox/d2-task.md'), 'utf8'));
    expect(t.ok && t.value.task.state).toBe('done');
    expect((await daemonPass(hub)).problems).toEqual([]);
  });

  // D14 (S1 in CI): a hub killed mid-pass and restarted at once. The far agent of the dead connection
  // finishes the requests it had in hand (a write of the task into r0/outbox) after the new pass has
  // scanned the far side; that pass saw the task on neither side (routed home here, not yet written
  // there) and dropped its base record. The far copy then had no base and differed from the copy
  // home: it was left beside it for good, reported on every pass.
  it('D14: a far copy written back after its base record was dropped is folded in, not left for good', async () => {
    await queueTask(hubMr, 'r0', 'd14-task');
    await sides.sync();
    await transition(farMr, 'd14-task', 'running');
    const late = await readFile(join(far, 'agents/r0/inbox/d14-task.md')); // an earlier version
    await transition(farMr, 'd14-task', 'done', { result: 'ok' });
    await sides.sync(); // pulled
    await daemonPass(hub); // routed home
    await sides.sync(); // the far copy goes, and so does the base record
    expect(await where(far, 'd14-task')).toEqual([]);
    expect(Object.keys((await loadSyncState(hubMr, 'vps')).base?.tasks ?? {})).not.toContain('d14-task');
    await archive(hubMr, 'd14-task', { as: 'dispatch' }); // the copy home moves on
    await writeFile(join(far, 'agents/r0/inbox/d14-task.md'), late); // the late write lands
    const r = await sides.sync();
    expect(r.problems).toEqual([]); // was: "d14-task is at dispatch/archive ... left alone"
    expect(await where(far, 'd14-task')).toEqual([]); // was: agents/r0/outbox/d14-task.md
    expect(await where(hub, 'd14-task')).toEqual(['agents/dispatch/archive/d14-task.md']);
    const t = parseTask(await readFile(join(hub, 'agents/dispatch/archive/d14-task.md'), 'utf8'));
    if (!t.ok) throw new Error(t.problem.reason);
    expect(t.value.task.state).toBe('done');
    const again = await sides.sync();
    expect(again.pushed + again.pulled + again.merged + again.deleted).toBe(0);
  });

  // D14, as S1 met it again (a full local run, kept folders read): the only pass that recorded the
  // task died before saving its state and its sent ledger, so neither knows it. The far copy is still
  // a version of ours: the copy here is addressed to one of the host's agents.
  it('D14: with neither a base record nor a ledger entry, a far copy of a task given to the host is folded in', async () => {
    await queueTask(hubMr, 'r0', 'd14b-task');
    await sides.sync();
    await transition(farMr, 'd14b-task', 'running');
    const late = await readFile(join(far, 'agents/r0/inbox/d14b-task.md'));
    await transition(farMr, 'd14b-task', 'done', { result: 'ok' });
    await sides.sync();
    await daemonPass(hub);
    await sides.sync();
    await archive(hubMr, 'd14b-task', { as: 'dispatch' });
    await rm(join(hub, '.mailroom/sync/vps.sent.json')); // the ledger never knew it
    await writeFile(join(far, 'agents/r0/inbox/d14b-task.md'), late);
    const r = await sides.sync();
    expect(r.problems).toEqual([]); // was: "d14b-task is at dispatch/archive ... left alone"
    expect(await where(far, 'd14b-task')).toEqual([]);
    expect(await where(hub, 'd14b-task')).toEqual(['agents/dispatch/archive/d14b-task.md']);
  });

  // D3 (S1, first run): the supervisor escalates a far worker's task on the hub (it moves to the
  // escalation agent's inbox, outside the host's folders) while the far worker finishes it. The next
  // pass pulls the finished copy back into r0/outbox: the hub holds two different versions of the task
  // for good (escalated+queued in human's inbox, done in dispatch's), and the escalated copy is then
  // reported as an illegal hand edit ("state changed from done to queued").
  it('D3: a task escalated on the hub while the far worker finishes it ends up once, with both changes', async () => {
    await queueTask(hubMr, 'r0', 'd3-task');
    await sides.sync();
    await escalate(hubMr, 'd3-task', 'not acknowledged within 5m (worker r0 presumed down)');
    await transition(farMr, 'd3-task', 'running');
    await transition(farMr, 'd3-task', 'done', { result: 'finished after all' });
    await sides.sync();
    await daemonPass(hub);
    await sides.sync();
    await daemonPass(hub);
    const copies = await where(hub, 'd3-task');
    expect(copies).toHaveLength(1); // was: agents/dispatch/inbox and agents/human/inbox
    const t = parseTask(await readFile(join(hub, copies[0]!), 'utf8'));
    if (!t.ok) throw new Error(t.problem.reason);
    expect(t.value.task.state).toBe('done');
    expect(t.value.task.history.map((h) => h.note ?? '').join('\n')).toMatch(/escalated to human/);
    expect(t.value.file.body).toContain('finished after all'); // the far worker's result
    expect(t.value.file.body).not.toContain('Conflict'); // only the far side changed the body
    expect(await where(far, 'd3-task')).toEqual([]);
    expect((await daemonPass(hub)).problems).toEqual([]);
  });
});

describe('reconcile: plain files', () => {
  it.each(FILE_CASES)('%s (base %s, local %s, remote %s) -> %s', (_what, base, local, remote, expected) => {
    const want = fileDecision(expected);
    expect(reconcile(fileInputs(base, local, remote)).files).toEqual(want ? [want] : []);
  });
});

describe('reconcile: a whole tree', () => {
  it('decides tasks and files independently and sorts by id and path', () => {
    const inputs: MapInputs = { base: empty(), local: empty(), remote: empty() };
    inputs.local.tasks.set('t2', version('A@in')!);
    inputs.remote.tasks.set('t1', version('A@in')!);
    inputs.local.files.set('rb/AGENT.md', { hash: 'x' });
    inputs.remote.files.set('ra/AGENT.md', { hash: 'y' });
    inputs.local.files.set('ra/inbox/t2.files/out.csv', { hash: 'z' });
    expect(reconcile(inputs)).toEqual({
      tasks: [
        { id: 't1', kind: 'take', from: 'remote', loc: 'ra/inbox' },
        { id: 't2', kind: 'take', from: 'local', loc: 'ra/inbox' },
      ],
      files: [
        { path: 'ra/AGENT.md', kind: 'take', from: 'remote' },
        { path: 'ra/inbox/t2.files/out.csv', kind: 'take', from: 'local' },
        { path: 'rb/AGENT.md', kind: 'take', from: 'local' },
      ],
    } satisfies Plan);
  });

  it('sorts by code unit, not by locale ("B" before "a")', () => {
    const inputs: MapInputs = { base: empty(), local: empty(), remote: empty() };
    for (const id of ['a1', 'B1', '01']) inputs.local.tasks.set(id, version('A@in')!);
    expect(reconcile(inputs).tasks.map((d) => d.id)).toEqual(['01', 'B1', 'a1']);
  });
});

// Property-style: every combination over small domains. Ranks here depend on the loc only.
describe('reconcile: properties over every (base, local, remote) combination', () => {
  const DOMAIN = ['-', 'A@in', 'A@out', 'B@in', 'B@out', 'C@out'];
  const BASES = ['lost', ...DOMAIN];
  const combos: [string, string, string][] = [];
  for (const b of BASES) for (const l of DOMAIN) for (const r of DOMAIN) combos.push([b, l, r]);

  /** One snapshot set holding every combination with a base as its own id, plus the lost-base ones. */
  function bigInputs(order: 'forward' | 'reverse'): [MapInputs, MapInputs] {
    const withBase: MapInputs = { base: empty(), local: empty(), remote: empty() };
    const lost: MapInputs = { base: undefined, local: empty(), remote: empty() };
    const list = order === 'forward' ? combos : [...combos].reverse();
    for (const [b, l, r] of list) {
      const id = `${b}|${l}|${r}`;
      const target = b === 'lost' ? lost : withBase;
      const put = (snap: { tasks: Map<string, TaskVersion> } | undefined, spec: string) => {
        const v = snap && version(spec);
        if (v) snap.tasks.set(id, v);
      };
      put(target.base, b);
      put(target.local, l);
      put(target.remote, r);
    }
    return [withBase, lost];
  }

  // One test per property, each looping over every combination; failures name the combination.
  const eachCombo = (check: (b: string, l: string, r: string) => void) => {
    for (const [b, l, r] of combos) check(b, l, r);
  };

  it('nothing is lost: deletes only remove unchanged versions, changed content is kept, moves carry over', () =>
    eachCombo((b, l, r) => {
      const at = `base ${b}, local ${l}, remote ${r}`;
      const base = b === 'lost' ? undefined : version(b);
      const sides: Record<Side, TaskVersion | undefined> = { local: version(l), remote: version(r) };
      const plan = reconcile(taskInputs(b, l, r));
      const d = plan.tasks[0];
      expect(plan.tasks.length, at).toBeLessThanOrEqual(1);
      if (!sides.local && !sides.remote) return void expect(d, at).toBeUndefined();
      expect(d, at).toBeDefined();
      if (!d) return;

      // A delete removes only a version equal to the base, and never without a base.
      if (d.kind === 'delete') {
        expect(b, at).not.toBe('lost');
        expect(sides[d.side], at).toEqual(base);
        expect(sides[d.side === 'local' ? 'remote' : 'local'], at).toBeUndefined();
      }
      // Every changed content survives: it is kept, merged, or equal to what is taken.
      for (const side of ['local', 'remote'] as const) {
        const v = sides[side];
        if (!v || (base !== undefined && v.hash === base.hash)) continue;
        const kept =
          d.kind === 'same' ||
          d.kind === 'merge' ||
          (d.kind === 'take' && (d.from === side || sides[d.from]?.hash === v.hash));
        expect(kept, `${at}: ${side}'s change ${v.hash} would be lost by ${JSON.stringify(d)}`).toBe(true);
      }
      // The target loc is one of the sides' locs; a move on one side only always carries over.
      if (d.kind === 'take' || d.kind === 'merge') {
        expect([sides.local?.loc, sides.remote?.loc], at).toContain(d.loc);
        if (d.kind === 'take') expect(sides[d.from], at).toBeDefined();
        if (base && sides.local && sides.remote) {
          const lMoved = sides.local.loc !== base.loc;
          const rMoved = sides.remote.loc !== base.loc;
          if (lMoved && !rMoved) expect(d.loc, at).toBe(sides.local.loc);
          if (rMoved && !lMoved) expect(d.loc, at).toBe(sides.remote.loc);
        }
      }
      // `same` means both sides really are equal.
      if (d.kind === 'same') expect(sides.local, at).toEqual(sides.remote);
    }));

  it('swapping the sides mirrors the plan', () =>
    eachCombo((b, l, r) => {
      // Compare what ends up where, by version, so that `local`/`remote` names drop out. Ranks differ
      // for every pair of locs in this domain, so no tie-break favours a side.
      const outcome = (p: Plan, specs: Record<Side, string>) =>
        p.tasks.map((d) =>
          d.kind === 'take'
            ? { kind: d.kind, content: version(specs[d.from])?.hash, loc: d.loc }
            : d.kind === 'delete'
              ? { kind: d.kind, removes: specs[d.side] }
              : d,
        );
      const plan = reconcile(taskInputs(b, l, r));
      const swapped = reconcile(taskInputs(b, r, l));
      expect(outcome(swapped, { local: r, remote: l }), `base ${b}, local ${l}, remote ${r}`).toEqual(
        outcome(plan, { local: l, remote: r }),
      );
    }));

  it('never deletes when the base is lost, over every combination', () => {
    const [, lost] = bigInputs('forward');
    const plan = reconcile(lost);
    expect(plan.tasks.filter((d) => d.kind === 'delete')).toEqual([]);
    expect(plan.tasks.length).toBeGreaterThan(0);
  });

  it('is deterministic: same inputs, any insertion order, same plan', () => {
    const [a, lostA] = bigInputs('forward');
    const [b, lostB] = bigInputs('reverse');
    expect(reconcile(a)).toEqual(reconcile(b));
    expect(reconcile(lostA)).toEqual(reconcile(lostB));
    expect(reconcile(a)).toEqual(reconcile(a));
    const ids = reconcile(a).tasks.map((d) => d.id);
    expect(ids).toEqual([...ids].sort());
  });

  it('plain files: nothing is lost over every combination', () => {
    const F = ['-', 'A', 'B', 'C'];
    for (const b of ['lost', ...F])
      for (const l of F)
        for (const r of F) {
          const d = reconcile(fileInputs(b, l, r)).files[0];
          const side: Record<Side, string> = { local: l, remote: r };
          if (d?.kind === 'delete') {
            expect(b, `${b}/${l}/${r}`).not.toBe('lost');
            expect(side[d.side]).toBe(b);
          }
          for (const s of ['local', 'remote'] as const) {
            if (side[s] === '-' || side[s] === b) continue;
            const kept =
              d?.kind === 'same' ||
              d?.kind === 'conflict' ||
              (d?.kind === 'take' && (d.from === s || side[d.from] === side[s]));
            expect(kept, `${b}/${l}/${r}: ${JSON.stringify(d)}`).toBe(true);
          }
        }
  });
});
