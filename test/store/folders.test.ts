// The folders between the root and a task file must be real folders (docs/spec.md §1: links are never
// followed), and a missing box is made on the way. Real temp folders, real links; the torture's
// defects (D4, D7) on a hub with a far host, with the daemon's pass and the CLI.

import { mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PassState, runPass } from '../../daemon/pass.js';
import { ReportBook } from '../../daemon/reports.js';
import { MailroomError } from '../../src/errors.js';
import { type Mailroom, openMailroom } from '../../src/mailroom.js';
import { transition } from '../../src/ops/lifecycle.js';
import { ensureFolder, folderProblem, listFolder } from '../../src/store/folders.js';
import { Layout } from '../../src/store/layout.js';
import { createTaskFile } from '../../src/store/tasks.js';
import { readEvents, taskText } from '../../torture/support.js';
import { runCli } from '../support/cli.js';
import { daemonPass, where } from '../support/daemon.js';
import { queueTask } from '../support/task-file.js';
import { bareR0, type TwoMachines } from '../support/two-machines.js';

let dir: string;
let layout: Layout;
let outside: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-folders-'));
  layout = new Layout(join(dir, 'root'));
  outside = join(dir, 'outside');
  await mkdir(join(layout.root, 'agents/human/inbox'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'notes.md'), 'not a task\n');
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MailroomError);
  return err as MailroomError;
};

describe('ensureFolder', () => {
  it('creates a missing agent folder and box, one level at a time', async () => {
    await ensureFolder(layout, layout.boxDir('r0', 'outbox'));
    expect(await readdir(join(layout.root, 'agents/r0'))).toEqual(['outbox']);
  });

  // [what is a link, the box to make, the folder the refusal names]
  const links: [string, string, () => string, string][] = [
    ['the box', 'agents/human/inbox', () => layout.boxDir('human', 'inbox'), 'agents/human/inbox'],
    ['the agent folder', 'agents/evil', () => layout.boxDir('evil', 'inbox'), 'agents/evil'],
    ['agents/', 'agents', () => layout.boxDir('human', 'inbox'), 'agents'],
  ];
  for (const [what, linkAt, box, named] of links) {
    it(`refuses when ${what} is a link, and creates nothing through it`, async () => {
      await rm(join(layout.root, linkAt), { recursive: true, force: true });
      await symlink(outside, join(layout.root, linkAt));
      const err = await refusal(ensureFolder(layout, box()));
      expect(err.kind).toBe('refused');
      expect(err.message).toBe(
        `${named}: symbolic link where a folder should be; mailroom never follows links, so nothing in it is used`,
      );
      expect(err.hint).toMatch(new RegExp(`rm ${named}.*mkdir ${named}`));
      expect(await readdir(outside)).toEqual(['notes.md']);
    });
  }

  it('refuses a dangling link too (mkdir would say "exists")', async () => {
    await symlink(join(dir, 'nowhere'), join(layout.root, 'agents/r0'));
    expect((await refusal(ensureFolder(layout, layout.boxDir('r0', 'inbox')))).message).toMatch(
      /^agents\/r0: symbolic link/,
    );
  });

  it('refuses a file where a box should be', async () => {
    await writeFile(join(layout.root, 'agents/human/outbox'), 'oops\n');
    expect((await refusal(ensureFolder(layout, layout.boxDir('human', 'outbox')))).message).toBe(
      'agents/human/outbox: not a folder, so mailroom cannot use it',
    );
  });
});

describe('listFolder', () => {
  it('lists a real box, and a missing one as empty', async () => {
    await writeFile(join(layout.root, 'agents/human/inbox/a.md'), 'x\n');
    expect((await listFolder(layout, layout.boxDir('human', 'inbox'))).entries.map((e) => e.name)).toEqual([
      'a.md',
    ]);
    expect(await listFolder(layout, layout.boxDir('nobody', 'inbox'))).toEqual({ entries: [] });
  });

  it('lists nothing behind a link, and says which folder is the link', async () => {
    await rm(join(layout.root, 'agents/human'), { recursive: true });
    await symlink(outside, join(layout.root, 'agents/human'));
    const r = await listFolder(layout, layout.boxDir('human', 'inbox'));
    expect(r.entries).toEqual([]);
    expect(r.problem?.rel).toBe('agents/human');
    expect((await folderProblem(layout, layout.boxDir('human', 'outbox')))?.path).toBe(
      join(layout.root, 'agents/human'),
    );
  });
});

describe('mailroom agent add', () => {
  it('refuses an agent folder that links outside the root, and writes nothing there', async () => {
    const { newMailroom } = await import('../support/cli.js');
    const env = await newMailroom([]);
    try {
      await symlink(outside, join(env.root, 'agents/linked'));
      const r = await env.mr(['agent', 'add', 'linked']);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/agents\/linked/);
      expect((await readdir(outside)).sort()).toEqual(['notes.md']);
    } finally {
      await env.cleanup();
    }
  });
});

describe('box folders on a hub with a far host (torture defects)', () => {
  let sides: TwoMachines;
  let hub: string;
  let hubMr: Mailroom;
  beforeEach(async () => {
    ({ hub, hubMr } = sides = await bareR0());
  });
  afterEach(async () => sides.cleanup());

  // D4 (S4): a far agent's boxes do not exist on the hub until sync creates them (`agent add --host`
  // makes none), so finishing its task on the hub (CLI `done`, or the daemon moving a task finished
  // by a file edit to the outbox) fails with a raw "ENOENT: mkdir .../outbox/ID.md.lock".
  it('D4: a task moves into a box folder that does not exist yet', async () => {
    await queueTask(hubMr, 'r0', 'd4-task'); // creates the hub's agents/r0/inbox only
    await transition(hubMr, 'd4-task', 'done', { result: 'finished on the hub' }); // was: ENOENT
    expect(await where(hub, 'd4-task')).toEqual(['agents/r0/outbox/d4-task.md']);
    await rm(join(hub, 'agents/r0/outbox'), { recursive: true }); // the next two start without it again
    // The daemon moving a task finished by a file edit to the outbox (and on home).
    await queueTask(hubMr, 'r0', 'd4-edit');
    const edited = join(hub, 'agents/r0/inbox/d4-edit.md');
    await writeFile(
      edited,
      taskText({ id: 'd4-edit', from: 'dispatch', to: 'r0', state: 'done' }, 'Done by hand.\n'),
    );
    await utimes(edited, new Date(Date.now() - 5000), new Date(Date.now() - 5000));
    await daemonPass(hub);
    expect(await where(hub, 'd4-edit')).toEqual(['agents/dispatch/inbox/d4-edit.md']);
    // `mailroom done` on the hub, the command S4 saw fail.
    await rm(join(hub, 'agents/r0/outbox'), { recursive: true });
    await queueTask(hubMr, 'r0', 'd4-cli');
    const r = await runCli(['done', 'd4-cli', '--as', 'r0', '--result', 'ok', '--root', hub]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await where(hub, 'd4-cli')).toEqual(['agents/r0/outbox/d4-cli.md']);
  });

  // D7 (S6): a box folder (or an agent folder) that is a symbolic link is followed. With human's inbox
  // linked to a folder outside the root, the daemon "completes" every .md file there (rewriting files
  // outside the root, and leaving sidecars there), routes finished tasks out of a linked outbox
  // (removing them from outside), and `mailroom send` writes new tasks outside the root.
  it('D7: a box folder that links outside the root is refused, not followed', async () => {
    const outside = join(sides.dir, 'outside');
    await mkdir(join(outside, 'out'), { recursive: true });
    await writeFile(join(outside, 'notes.md'), 'My private notes, not a task.\n');
    const finished = taskText({ id: 'far-done', from: 'r0', to: 'dispatch', state: 'done' }, 'x\n');
    await writeFile(join(outside, 'out/far-done.md'), finished);
    await rm(join(hub, 'agents/human/inbox'), { recursive: true });
    await symlink(outside, join(hub, 'agents/human/inbox'));
    await rm(join(hub, 'agents/dispatch/outbox'), { recursive: true });
    await symlink(join(outside, 'out'), join(hub, 'agents/dispatch/outbox'));
    const before = await readFile(join(outside, 'notes.md'), 'utf8');
    await utimes(join(outside, 'notes.md'), new Date(Date.now() - 5000), new Date(Date.now() - 5000));
    const daemon: PassState = { reports: new ReportBook(hubMr), known: new Map() };
    const outcome = await daemonPass(hub, daemon);
    await daemonPass(hub, daemon);
    expect(await readFile(join(outside, 'notes.md'), 'utf8')).toBe(before); // was: made into a task
    expect((await readdir(outside)).sort()).toEqual(['notes.md', 'out']);
    expect(await readdir(join(outside, 'out'))).toEqual(['far-done.md']); // was: routed out of it
    expect(await readdir(join(hub, 'agents/r0/inbox')).catch(() => [])).toEqual([]);
    // Reported once per folder (an event, a problem of the pass, a sidecar beside the link).
    const refused = (await readEvents(hub)).filter((e) => e.type === 'folder.refused');
    expect(refused.map((e) => e.path).sort()).toEqual(['agents/dispatch/outbox', 'agents/human/inbox']);
    expect(refused[0]!.reason).toMatch(/symbolic link where a folder should be; .*mkdir/);
    expect(outcome.problems.map((p) => p.path).sort()).toEqual([
      'agents/dispatch/outbox',
      'agents/human/inbox',
    ]);
    expect(await readFile(join(hub, 'agents/human/inbox.error.txt'), 'utf8')).toMatch(/never follows links/);
    // Commands neither write through it nor list through it.
    const send = await runCli(['send', 'human', 'into a linked inbox', '--root', hub]);
    expect(send.code).toBe(3);
    expect(send.stderr).toMatch(/agents\/human\/inbox: symbolic link where a folder should be/);
    expect(await readdir(outside)).toEqual(['notes.md', 'out']);
    const ls = await runCli(['ls', '--root', hub]);
    expect(ls.stderr).toMatch(/agents\/human\/inbox: symbolic link/);
    expect(ls.stdout).not.toMatch(/far-done/);
    // An agent folder that is a link is refused the same way.
    await rm(join(hub, 'agents/human'), { recursive: true });
    await symlink(outside, join(hub, 'agents/human'));
    await expect(createTaskFile(hubMr, 'human', 'inbox', 'x1', 'x')).rejects.toThrow(
      /^agents\/human: symbolic link/,
    );
    // Fixed: the report goes, sidecar and all.
    await rm(join(hub, 'agents/human'));
    await rm(join(hub, 'agents/dispatch/outbox'));
    await mkdir(join(hub, 'agents/human/inbox'), { recursive: true });
    await mkdir(join(hub, 'agents/dispatch/outbox'));
    const mr = await openMailroom(hub);
    const state = { reports: new ReportBook(mr), known: new Map() };
    await state.reports.load(['dispatch', 'human']); // as a restarted daemon does
    expect(state.reports.open.size).toBe(1); // the outbox's sidecar is still there; human's went with the folder
    await runPass(mr, state);
    expect(state.reports.open.size).toBe(0);
    expect((await readEvents(hub)).filter((e) => e.type === 'folder.fixed').map((e) => e.path)).toEqual([
      'agents/dispatch/outbox',
    ]);
    expect(await readdir(join(hub, 'agents/dispatch'))).not.toContain('outbox.error.txt');
    expect(await readdir(outside)).toEqual(['notes.md', 'out']);
  });
});
