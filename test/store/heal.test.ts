import { link, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeRank } from '../../src/store/heal.js';
import { newMailroom } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research']);
});
afterAll(async () => env.cleanup());

describe('a move cut short by a crash (two links of one file)', () => {
  it('is completed on the next lookup: the copy in the rightful box stays', async () => {
    const id = (await env.mr(['send', 'research', 'finish then crash', '--as', 'dispatch'])).stdout.trim();
    expect((await env.mr(['done', id])).code).toBe(0);
    // Simulate a crash of the earlier move: the outbox file is also still linked in the inbox.
    await link(
      join(env.root, `agents/research/outbox/${id}.md`),
      join(env.root, `agents/research/inbox/${id}.md`),
    );
    const shown = await env.mr(['show', id, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout).box).toBe('outbox');
    expect(await readdir(join(env.root, 'agents/research/inbox'))).not.toContain(`${id}.md`);
  });

  it('is refused, not guessed, when the two copies are different files', async () => {
    const id = (await env.mr(['send', 'research', 'two different copies'])).stdout.trim();
    const inbox = join(env.root, `agents/research/inbox/${id}.md`);
    const text = await readFile(inbox, 'utf8');
    await writeFile(
      join(env.root, `agents/research/outbox/${id}.md`),
      text.replace('state: queued', 'state: done'),
    );
    const r = await env.mr(['ack', id]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/exists in 2 places/);
    expect(await readFile(inbox, 'utf8')).toBe(text);
  });
});

describe('placeRank', () => {
  const t = (state: 'queued' | 'done', from = 'dispatch', to = 'research') => ({ state, from, to });
  it.each([
    [
      'unfinished task belongs in its worker inbox',
      t('queued'),
      ['research', 'inbox'],
      ['research', 'outbox'],
    ],
    [
      'retried task belongs in the new worker inbox',
      t('queued', 'dispatch', 'coder'),
      ['coder', 'inbox'],
      ['research', 'outbox'],
    ],
    [
      'finished task belongs in the outbox over the worker inbox',
      t('done'),
      ['research', 'outbox'],
      ['research', 'inbox'],
    ],
    [
      'routed task belongs in the sender inbox over the outbox',
      t('done'),
      ['dispatch', 'inbox'],
      ['research', 'outbox'],
    ],
    ['archived task belongs in the archive', t('done'), ['dispatch', 'archive'], ['dispatch', 'inbox']],
  ] as const)('%s', (_name, task, win, lose) => {
    expect(placeRank(task, win[0], win[1])).toBeGreaterThan(placeRank(task, lose[0], lose[1]));
  });
});
