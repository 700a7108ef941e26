// The sync engine end to end on two real folders: the far side is a plain local folder behind the
// same Endpoint interface the SFTP transport implements (test/sync/sshd.test.ts runs it over SSH).

import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPass } from '../../daemon/pass.js';
import { ReportBook } from '../../daemon/reports.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import { networkError } from '../../src/errors.js';
import { openMailroom } from '../../src/mailroom.js';
import { FIELDS_APART, loadSyncState, saveSyncState } from '../../src/sync/state.js';
import { parseTask } from '../../src/task/parse.js';
import { runCli } from '../support/cli.js';
import { locations } from '../support/daemon.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

let sides: TwoMachines;
let hub: string;
let far: string;

beforeEach(async () => {
  sides = await twoMachines();
  ({ hub, far } = sides);
});
afterEach(async () => sides.cleanup());

/**
 * One pass, on a state whose records are frozen: the state this process saved last is what the next
 * pass loads (state.ts keeps it), so a writer that edits a record in place instead of replacing it
 * throws here (ES modules are strict). The state keeps what was saved by reference, and such an edit
 * would never be saved.
 */
const sync = async () => {
  const mr = await openMailroom(hub);
  const state = await loadSyncState(mr, 'vps');
  const tables = [state.base?.tasks ?? {}, state.base?.files ?? {}, state.local, state.remote];
  for (const records of tables)
    for (const r of Object.values(records)) {
      Object.freeze(r);
      if ('base' in r && r.base) Object.freeze(r.base);
    }
  await saveSyncState(mr, state);
  return sides.sync();
};
const cli = (root: string, args: string[]) => runCli([...args, '--root', root]);
const task = async (root: string, rel: string) => {
  const r = parseTask(await readFile(join(root, rel), 'utf8'));
  if (!r.ok) throw new Error(r.problem.reason);
  return r.value.task;
};

describe('sync between a hub and a far folder', () => {
  it('round trip: send on the hub, work on the far side, result routed back on the hub', async () => {
    const id = (await cli(hub, ['send', 'research', 'Summarise', '--as', 'dispatch'])).stdout.trim();
    const first = await sync();
    expect(first.pushed).toBeGreaterThanOrEqual(1);
    expect((await task(far, `agents/research/inbox/${id}.md`)).state).toBe('queued');

    for (const args of [
      ['ack', id],
      ['start', id],
      ['progress', id, 'half'],
      ['done', id, '--result', 'Summary.'],
    ]) {
      expect((await cli(far, args)).code).toBe(0);
    }
    const second = await sync();
    expect(second.pulled).toBeGreaterThanOrEqual(1);
    expect((await task(hub, `agents/research/outbox/${id}.md`)).state).toBe('done');

    // The hub's daemon routes it back to dispatch; the next sync removes it from the far outbox.
    const mr = await openMailroom(hub);
    const pass = await runPass(mr, { reports: new ReportBook(mr), known: new Map() });
    expect(pass.routed).toBe(1);
    const third = await sync();
    expect(third.deleted).toBe(1);
    expect((await locations(far)).get(id)).toBeUndefined();
    expect(await readFile(join(hub, `agents/dispatch/inbox/${id}.md`), 'utf8')).toMatch(
      /## Result\n\nSummary\.\n$/,
    );
    // Nothing left to do.
    const fourth = await sync();
    expect(fourth.pushed + fourth.pulled + fourth.merged + fourth.deleted).toBe(0);
  });

  it('both sides changed a task between passes: fields merged, history united, nothing lost', async () => {
    const id = (
      await cli(hub, ['send', 'research', 'Merge me', '--as', 'dispatch', '--body', 'Original body.'])
    ).stdout.trim();
    await sync();
    expect((await cli(far, ['start', id])).code).toBe(0); // far: queued -> running
    const hubPath = join(hub, `agents/research/inbox/${id}.md`);
    await writeFile(
      hubPath,
      (await readFile(hubPath, 'utf8')).replace('priority: normal', 'priority: urgent'),
    );
    const r = await sync();
    expect(r.merged).toBe(1);
    for (const root of [hub, far]) {
      const t = await task(root, `agents/research/inbox/${id}.md`);
      expect(t.state).toBe('running');
      expect(t.priority).toBe('urgent');
      expect(t.history.map((h) => h.state)).toEqual(['queued', 'acked', 'running']);
    }
    expect(await readFile(hubPath)).toEqual(await readFile(join(far, `agents/research/inbox/${id}.md`)));
  });

  it("a merge in a later process takes the base's fields from the state on disk (kept apart from its records)", async () => {
    const id = (await cli(hub, ['send', 'research', 'Merge later', '--as', 'dispatch'])).stdout.trim();
    await sync();
    expect((await cli(far, ['start', id])).code).toBe(0);
    const hubPath = join(hub, `agents/research/inbox/${id}.md`);
    await writeFile(
      hubPath,
      (await readFile(hubPath, 'utf8')).replace('priority: normal', 'priority: urgent'),
    );
    // The state this process kept, taken and not given back: the next loads read the disk, as a new
    // process does.
    const mr = await openMailroom(hub);
    await loadSyncState(mr, 'vps');
    const onDisk = await loadSyncState(mr, 'vps');
    expect(onDisk.base!.tasks[id]!.base).toBe(FIELDS_APART);
    const r = await sides.sync();
    expect(r.merged).toBe(1);
    expect(r.conflicts).toEqual([]);
    const t = await task(hub, `agents/research/inbox/${id}.md`);
    expect([t.state, t.priority]).toEqual(['running', 'urgent']);
  });

  it('a body edited on both sides keeps both versions', async () => {
    const id = (await cli(hub, ['send', 'research', 'Two bodies', '--body', 'v0'])).stdout.trim();
    await sync();
    for (const [root, body] of [
      [hub, 'hub edit'],
      [far, 'far edit'],
    ] as const) {
      const p = join(root, `agents/research/inbox/${id}.md`);
      await writeFile(p, (await readFile(p, 'utf8')).replace('v0', body));
    }
    const r = await sync();
    expect(r.merged).toBe(1);
    const text = await readFile(join(far, `agents/research/inbox/${id}.md`), 'utf8');
    expect(text).toContain('hub edit');
    expect(text).toContain('far edit');
  });

  it('moved to the outbox on one side and edited on the other: ends up moved, with the edit', async () => {
    const id = (await cli(hub, ['send', 'research', 'Move vs edit'])).stdout.trim();
    await sync();
    expect((await cli(far, ['done', id, '--result', 'far result'])).code).toBe(0); // far: inbox -> outbox
    const p = join(hub, `agents/research/inbox/${id}.md`);
    await writeFile(p, (await readFile(p, 'utf8')).replace('priority: normal', 'priority: high'));
    await sync();
    for (const root of [hub, far]) {
      expect((await locations(root)).get(id)).toEqual(['research/outbox']);
      const t = await task(root, `agents/research/outbox/${id}.md`);
      expect(t).toMatchObject({ state: 'done', priority: 'high' });
    }
  });

  it('a delete wins only over an unchanged file', async () => {
    const a = (await cli(hub, ['send', 'research', 'delete me'])).stdout.trim();
    const b = (await cli(hub, ['send', 'research', 'edit beats delete'])).stdout.trim();
    await sync();
    await rm(join(far, `agents/research/inbox/${a}.md`));
    await rm(join(far, `agents/research/inbox/${b}.md`));
    expect((await cli(hub, ['ack', b])).code).toBe(0);
    await sync();
    expect((await locations(hub)).get(a)).toBeUndefined();
    expect((await task(far, `agents/research/inbox/${b}.md`)).state).toBe('acked');
  });

  it('lost sync state: the next pass deletes nothing and merges differences', async () => {
    const a = (await cli(hub, ['send', 'research', 'keep me'])).stdout.trim();
    await sync();
    await rm(join(far, `agents/research/inbox/${a}.md`));
    await rm(join(hub, '.mailroom/sync'), { recursive: true });
    const r = await sync();
    expect(r.deleted).toBe(0);
    expect((await task(far, `agents/research/inbox/${a}.md`)).id).toBe(a);
  });

  it('refuses what the far side may not send: other agents, symlinks; only its own agents sync', async () => {
    await mkdir(join(far, 'agents/dispatch/inbox'), { recursive: true });
    await writeFile(
      join(far, 'agents/dispatch/inbox/evil.md'),
      '---\nid: evil\ntitle: x\nfrom: research\nto: dispatch\nstate: queued\ncreated: 2026-11-22T10:15:00Z\n---\n',
    );
    await symlink('/etc/passwd', join(far, 'agents/research/inbox/passwd.md'));
    const r = await sync();
    expect((await locations(hub)).get('evil')).toBeUndefined();
    expect((await locations(hub)).get('passwd')).toBeUndefined();
    expect(r.scanProblems.map((p) => p.path)).toEqual(
      expect.arrayContaining(['agents/dispatch', 'agents/research/inbox/passwd.md']),
    );
  });

  it("a far task reusing the id of a hub task outside the host's folders touches neither copy", async () => {
    const mine =
      '---\nid: hub-own\ntitle: mine\nfrom: human\nto: dispatch\nstate: queued\ncreated: 2026-11-22T10:15:00Z\n---\nThe hub copy.\n';
    await mkdir(join(hub, 'agents/dispatch/inbox'), { recursive: true });
    await writeFile(join(hub, 'agents/dispatch/inbox/hub-own.md'), mine);
    await writeFile(
      join(far, 'agents/research/inbox/hub-own.md'),
      '---\nid: hub-own\ntitle: theirs\nfrom: dispatch\nto: research\nstate: queued\ncreated: 2026-11-22T10:15:00Z\n---\nReplaced.\n',
    );
    const r = await sync();
    expect(r.problems.map((p) => p.reason).join('\n')).toMatch(/hub-own is at dispatch\/inbox .* left alone/);
    expect(await readFile(join(hub, 'agents/dispatch/inbox/hub-own.md'), 'utf8')).toBe(mine);
    expect((await locations(hub)).get('hub-own')).toEqual(['dispatch/inbox']);
    expect((await task(far, 'agents/research/inbox/hub-own.md')).title).toBe('theirs');
  });

  it('a task deleted on both sides leaves the sync state: it is not looked for again', async () => {
    const id = (await cli(hub, ['send', 'research', 'gone'])).stdout.trim();
    await sync();
    const before = await loadSyncState(await openMailroom(hub), 'vps');
    expect(Object.keys(before.base?.tasks ?? {})).toContain(id);
    await rm(join(hub, `agents/research/inbox/${id}.md`));
    await rm(join(far, `agents/research/inbox/${id}.md`));
    const r = await sync();
    expect(r.deleted + r.pushed + r.pulled).toBe(0);
    const state = await loadSyncState(await openMailroom(hub), 'vps');
    expect(Object.keys(state.base?.tasks ?? {})).not.toContain(id);
  });

  it('a conflicting plain file keeps both versions', async () => {
    await sync();
    await writeFile(join(hub, 'agents/research/AGENT.md'), 'hub version\n');
    await writeFile(join(far, 'agents/research/AGENT.md'), 'far version\n');
    const r = await sync();
    expect(r.conflicts).toHaveLength(1);
    const copy = r.conflicts[0]!.match(/kept as (\S+)/)![1]!;
    for (const root of [hub, far]) {
      expect(await readFile(join(root, 'agents/research/AGENT.md'), 'utf8')).toBe('hub version\n');
      expect(await readFile(join(root, 'agents/research', copy), 'utf8')).toBe('far version\n');
    }
  });
});

describe('a file listed but not read (torture defect D12)', () => {
  // S2 found it: a connection cut while the far files were being read left some out of the scan, as
  // if deleted there; a task the hub had deleted was then dropped from the ancestor, and the next
  // pass brought it back from the far side.
  const failingReads = (fail: (rel: string) => Error | undefined) => {
    const remote = localEndpoint(far);
    return new Proxy(remote, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== 'readFile' || typeof value !== 'function') return value;
        return async (rel: string) => {
          const err = fail(rel);
          if (err) throw err;
          return value.call(target, rel);
        };
      },
    });
  };

  it('a lost connection while reading ends the pass, and a hub delete is not undone', async () => {
    const id = (await cli(hub, ['send', 'research', 'deleted on the hub'])).stdout.trim();
    await sync();
    await rm(join(hub, `agents/research/inbox/${id}.md`));
    const farPath = join(far, `agents/research/inbox/${id}.md`);
    await writeFile(farPath, await readFile(farPath)); // same bytes, new mtime: the scan reads it again
    const cut = failingReads((rel) =>
      rel.endsWith(`${id}.md`) ? networkError('vps: read failed: the connection was lost') : undefined,
    );
    await expect(sides.sync({ remote: cut })).rejects.toThrow(/connection/);
    const next = await sync();
    expect(next.deleted).toBe(1);
    expect((await locations(hub)).get(id)).toBeUndefined();
    expect((await locations(far)).get(id)).toBeUndefined();
  });

  it('a file that cannot be read stops the pass before anything changes, naming the file', async () => {
    const a = (await cli(hub, ['send', 'research', 'unreadable there'])).stdout.trim();
    await sync();
    const b = (await cli(hub, ['send', 'research', 'new here'])).stdout.trim();
    const farA = join(far, `agents/research/inbox/${a}.md`);
    await writeFile(farA, await readFile(farA));
    const denied = failingReads((rel) =>
      rel.endsWith(`${a}.md`) ? new Error('EACCES: permission denied') : undefined,
    );
    await expect(sides.sync({ remote: denied })).rejects.toThrow(
      new RegExp(`cannot read agents/research/inbox/${a}\\.md`),
    );
    expect((await locations(far)).get(b)).toBeUndefined(); // nothing pushed
    expect((await locations(hub)).get(a)).toEqual(['research/inbox']);
  });
});
