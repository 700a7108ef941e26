// The folders between the root and a task file must be real folders (docs/spec.md §1: links are never
// followed). Real temp folders, real links.

import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailroomError } from '../../src/errors.js';
import { ensureFolder, folderProblem, listFolder } from '../../src/store/folders.js';
import { Layout } from '../../src/store/layout.js';

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
