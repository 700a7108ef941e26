// `mailroom demo --root DIR` recreates its folder on each run: it must never delete what it did not
// make (it wiped an existing mailroom of 2,001 tasks). A previous demo is recreated in the quick start
// test (test/cli/quickstart.test.ts), which runs the whole tour.

import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newMailroom, runCli, tempDir } from '../support/cli.js';

describe('mailroom demo --root', () => {
  it('demo does not delete an existing mailroom (it wiped one with its tasks)', async () => {
    const m = await newMailroom();
    try {
      const ids: string[] = [];
      for (const t of ['keep me', 'and me']) ids.push((await m.mr(['send', 'research', t])).stdout.trim());
      const r = await runCli(['demo', '--root', m.root]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(
        /holds a mailroom that the demo did not make.*will not touch this one\n.*--root/,
      );
      for (const id of ids) expect(existsSync(join(m.root, 'agents/research/inbox', `${id}.md`))).toBe(true);
      expect(existsSync(join(m.root, 'mailroom.yaml'))).toBe(true);
    } finally {
      await m.cleanup();
    }
  });

  it('demo refuses a folder holding other files, and keeps them', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const root = join(dir, 'notes');
      await mkdir(root);
      await writeFile(join(root, 'thesis.md'), 'years of work\n');
      const r = await runCli(['demo', '--root', root]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/holds other files/);
      expect(readdirSync(root)).toEqual(['thesis.md']);
    } finally {
      await cleanup();
    }
  });
});
