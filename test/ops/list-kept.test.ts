// Kept listings (src/ops/list-kept.ts): a long-running lister gives a listing again without a stat
// per file only while its watcher's hints say nothing it covers changed. Each test proves which path
// a listing took by a change made *without* a hint (as a missed event would be): a kept listing does
// not show it, a full one does. The last test drives the hints from a real watcher, as `mailroom mcp`
// does, and checks that a change made by another process just before a listing is always seen.
// The others stop this process's clock (Date.now): a kept listing is trusted for TRUST_MS, and on a
// loaded machine a `mailroom send` process alone can outlast that, which would end the trust the test
// is about. A stopped clock only makes the listing cache treat every file as too new to cache.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchPaths } from '../../daemon/watch.js';
import { openMailroom } from '../../src/mailroom.js';
import { listTasks } from '../../src/ops/list.js';
import type { MemoryCache } from '../../src/ops/list-cache.js';
import { ChangeHints, TRUST_MS } from '../../src/ops/list-kept.js';
import { claimNext } from '../../src/ops/next.js';
import { newMailroom } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
let hints: ChangeHints;
let memory: MemoryCache;
beforeEach(async () => {
  env = await newMailroom(['w']);
  hints = new ChangeHints();
  memory = { hints };
  vi.spyOn(Date, 'now').mockReturnValue(Date.now());
});
afterEach(async () => {
  vi.restoreAllMocks();
  await env.cleanup();
});

async function send(to: string, title: string): Promise<string> {
  const r = await env.mr(['send', to, title, '--as', 'dispatch']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

const pathOf = (agent: string, id: string, box = 'inbox') => join(env.root, 'agents', agent, box, `${id}.md`);

/** The titles of w's inbox and outbox as a listing through `memory` shows them, by id. */
async function titles(): Promise<Record<string, string>> {
  const mr = await openMailroom(env.root);
  const { tasks } = await listTasks(mr, { agent: 'w' }, { memory });
  return Object.fromEntries(tasks.map((t) => [t.id, `${t.title}/${t.state}`]));
}

describe('kept listings', () => {
  it('are given again while no hint concerns them, and listed in full after one that does', async () => {
    const a = await send('w', 'first');
    expect(await titles()).toEqual({ [a]: 'first/queued' });
    const b = await send('w', 'unhinted'); // no watcher: as if its event were missed
    expect(await titles()).toEqual({ [a]: 'first/queued' });
    hints.note(pathOf('w', b));
    expect(await titles()).toEqual({ [a]: 'first/queued', [b]: 'unhinted/queued' });
  });

  it("ignore hints for other agents' files and other boxes; a box or an agent folder ends them", async () => {
    await send('w', 'first');
    await titles();
    const b = await send('w', 'unhinted');
    hints.note(pathOf('human', b));
    hints.note(pathOf('w', b, 'archive'));
    expect(Object.keys(await titles())).not.toContain(b);
    for (const folder of ['agents/w/inbox', 'agents/w', 'agents']) {
      const c = await send('w', `after ${folder}`);
      hints.note(join(env.root, folder));
      expect(Object.keys(await titles()), folder).toContain(c);
    }
  });

  it("show this process's own claim at once; its echo keeps them, another writer's change ends them", async () => {
    const a = await send('w', 'to claim');
    await titles();
    const mr = await openMailroom(env.root);
    expect((await claimNext(mr, 'w', { memory }))?.after.id).toBe(a);
    hints.note(pathOf('w', a)); // the watcher's echo of the claim itself
    const b = await send('w', 'unhinted');
    expect(await titles()).toEqual({ [a]: 'to claim/acked' }); // kept (b unseen), with the claim
    const text = await readFile(pathOf('w', a), 'utf8');
    await writeFile(pathOf('w', a), text.replace('title: to claim', 'title: edited'));
    hints.note(pathOf('w', a));
    expect(await titles()).toEqual({ [a]: 'edited/acked', [b]: 'unhinted/queued' });
  });

  it(`are given for at most ${TRUST_MS} ms`, async () => {
    await titles();
    const b = await send('w', 'unhinted');
    expect(Object.keys(await titles())).not.toContain(b);
    vi.spyOn(Date, 'now').mockReturnValue(Date.now() + TRUST_MS);
    expect(Object.keys(await titles())).toContain(b);
  });

  it('end when the watcher fails or more hints came than the log keeps', async () => {
    await titles();
    const b = await send('w', 'unhinted');
    for (let i = 0; i < 600; i++) hints.note(pathOf('human', `x${i}`)); // none of them concern w
    expect(Object.keys(await titles())).toContain(b);
    const c = await send('w', 'unhinted too');
    expect(Object.keys(await titles())).not.toContain(c);
    hints.fail();
    expect(Object.keys(await titles())).toContain(c);
  });

  it.runIf(process.platform === 'linux')(
    'with a real watcher, a change another process made just before a listing is always in it',
    async () => {
      vi.restoreAllMocks(); // the real clock: trust ends as it would in `mailroom mcp`
      const mr = await openMailroom(env.root);
      const watcher = await watchPaths([mr.layout.agentsDir], (p) => hints.note(p), {
        onError: () => hints.fail(),
      });
      try {
        await titles();
        for (let i = 0; i < 15; i++) {
          const id = await send('w', `round ${i}`); // the CLI's process has exited when this returns
          expect((await titles())[id], `round ${i}: the new task`).toBe(`round ${i}/queued`);
          const r = await env.mr(['ack', id, '--as', 'w']);
          expect(r.code, r.stderr).toBe(0);
          expect((await titles())[id], `round ${i}: its ack`).toBe(`round ${i}/acked`);
        }
      } finally {
        await watcher.close();
      }
    },
  );
});
