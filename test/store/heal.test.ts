import { link, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
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

  it('two separate files with the very same bytes are folded the same way (D2: a copy pulled back)', async () => {
    const id = (await env.mr(['send', 'research', 'copied back', '--as', 'dispatch'])).stdout.trim();
    expect((await env.mr(['done', id])).code).toBe(0);
    const outbox = join(env.root, `agents/research/outbox/${id}.md`);
    const bytes = await readFile(outbox);
    await writeFile(join(env.root, `agents/dispatch/inbox/${id}.md`), bytes); // routed, and a copy came back
    const shown = await env.mr(['show', id, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ agent: 'dispatch', box: 'inbox' });
    expect(await readdir(join(env.root, 'agents/research/outbox'))).not.toContain(`${id}.md`);
    expect(await readFile(join(env.root, `agents/dispatch/inbox/${id}.md`))).toEqual(bytes);
  });

  it('identical copies are not folded when a result folder sits beside the one that would go', async () => {
    const id = (await env.mr(['send', 'research', 'copied with results', '--as', 'dispatch'])).stdout.trim();
    expect((await env.mr(['done', id])).code).toBe(0);
    const outbox = join(env.root, `agents/research/outbox/${id}.md`);
    await mkdir(join(env.root, `agents/research/outbox/${id}.files`));
    await writeFile(join(env.root, `agents/research/outbox/${id}.files/result.csv`), 'a,b\n');
    await writeFile(join(env.root, `agents/dispatch/inbox/${id}.md`), await readFile(outbox));
    const r = await env.mr(['show', id]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/exists in 2 places/);
    const left = (await readdir(join(env.root, 'agents/research/outbox'))).filter((n) => n.startsWith(id));
    expect(left.sort()).toEqual([`${id}.files`, `${id}.md`]);
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
