// `agent rm` and `host rm` (there were none): refused while tasks are there, --force hands them to
// escalate_to, and nothing is lost on the way.

import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newMailroom, runCli } from '../support/cli.js';

describe('mailroom agent rm', () => {
  it('removes an agent without tasks: config entry and folder', async () => {
    const m = await newMailroom(['research', 'spare']);
    try {
      const r = await m.mr(['agent', 'rm', 'spare']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/removed agent spare/);
      expect(await readFile(join(m.root, 'mailroom.yaml'), 'utf8')).not.toMatch(/spare/);
      expect(existsSync(join(m.root, 'agents/spare'))).toBe(false);
      expect((await m.mr(['agent', 'rm', 'spare'])).code).toBe(2);
    } finally {
      await m.cleanup();
    }
  });

  it('refuses while the agent has tasks, and --force hands them to escalate_to', async () => {
    const m = await newMailroom();
    try {
      const open = (await m.mr(['send', 'research', 'still open'])).stdout.trim();
      const done = (await m.mr(['send', 'research', 'finished'])).stdout.trim();
      expect((await m.mr(['done', done, '--result', 'ok'])).code).toBe(0);
      const refusedRm = await m.mr(['agent', 'rm', 'research']);
      expect(refusedRm.code).toBe(3);
      expect(refusedRm.stderr).toMatch(/still has 2 task\(s\)[\s\S]*agent rm research --force/);
      expect(await readFile(join(m.root, 'mailroom.yaml'), 'utf8')).toMatch(/research/);
      const forced = await m.mr(['agent', 'rm', 'research', '--force']);
      expect(forced.stdout).toMatch(/2 task\(s\) handed to human/);
      const moved = JSON.parse((await m.mr(['show', open, '--json'])).stdout);
      expect(moved.task.to).toBe('human');
      expect(moved.task.state).toBe('queued');
      expect(moved.path).toContain('agents/human/inbox/');
      expect(JSON.parse((await m.mr(['show', done, '--json'])).stdout).path).toContain(
        'agents/human/outbox/',
      );
      expect(existsSync(join(m.root, 'agents/research'))).toBe(false);
    } finally {
      await m.cleanup();
    }
  });

  it('refuses to remove escalate_to, and keeps a folder with files of its own', async () => {
    const m = await newMailroom();
    try {
      const r = await m.mr(['agent', 'rm', 'human']);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/escalate_to/);
      await writeFile(join(m.root, 'agents/research/notes.txt'), 'mine\n');
      const rm = await m.mr(['agent', 'rm', 'research']);
      expect(rm.stdout).toMatch(/left in place/);
      expect(await readFile(join(m.root, 'agents/research/notes.txt'), 'utf8')).toBe('mine\n');
    } finally {
      await m.cleanup();
    }
  });
});

describe('mailroom host rm', () => {
  it('refuses while agents live on the host; --force removes them and hands their tasks over', async () => {
    const m = await newMailroom([]);
    try {
      const add = await runCli([
        '--root',
        m.root,
        'host',
        'add',
        'vps',
        'deploy@vps.example',
        '--root',
        '/srv/mr',
      ]);
      expect(add.stderr).toBe('');
      expect((await m.mr(['agent', 'add', 'far', '--host', 'vps'])).code).toBe(0);
      const id = (await m.mr(['send', 'far', 'for the far agent'])).stdout.trim();
      await mkdir(join(m.root, '.mailroom/sync'), { recursive: true });
      const hostFiles = [
        'vps.json',
        'vps~g1.json',
        'vps~g1.journal',
        'vps.sent.json',
        'vps.far-manifest.json',
        'vps.far-agent.json',
      ];
      for (const f of hostFiles) await writeFile(join(m.root, '.mailroom/sync', f), '{}');
      await writeFile(join(m.root, '.mailroom/sync/other.json'), '{}');
      const r = await m.mr(['host', 'rm', 'vps']);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/still has agent\(s\) far/);
      const forced = await m.mr(['host', 'rm', 'vps', '--force']);
      expect(forced.stderr).toBe('');
      expect(forced.stdout).toMatch(/removed host vps and its agent\(s\) far; 1 task\(s\) handed to human/);
      const config = await readFile(join(m.root, 'mailroom.yaml'), 'utf8');
      expect(config).not.toMatch(/vps|far/);
      expect(JSON.parse((await m.mr(['show', id, '--json'])).stdout).task.to).toBe('human');
      // Every file of the host's sync state (its ledger of sent tasks and its manifest copy too);
      // another host's stay.
      for (const f of hostFiles) expect(existsSync(join(m.root, '.mailroom/sync', f)), f).toBe(false);
      expect(existsSync(join(m.root, '.mailroom/sync/other.json'))).toBe(true);
    } finally {
      await m.cleanup();
    }
  });
});
