// scanElsewhere: where the hub holds tasks outside one host's agents' folders, found by name, with
// the tasks moving under it (a move is link then unlink, as the store does it).

import { link, mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/endpoint/endpoint.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import { scanElsewhere } from '../../src/sync/scan.js';
import { taskText, tempDir } from '../../torture/support.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
const root = () => join(tmp.dir, 'root');

beforeEach(async () => {
  tmp = await tempDir('elsewhere');
  for (const a of ['dispatch', 'human', 'r0'])
    for (const b of ['inbox', 'outbox', 'archive'])
      await mkdir(join(root(), 'agents', a, b), { recursive: true });
});
afterEach(async () => tmp.cleanup());

const put = (rel: string, id: string) =>
  writeFile(join(root(), rel), taskText({ id, from: 'dispatch', to: 'r0', state: 'done' }, `${id}\n`));
const move = async (from: string, to: string) => {
  await link(join(root(), from), join(root(), to));
  await unlink(join(root(), from));
};

/** The endpoint, with `hook` run once just before `dir` is listed (scanElsewhere lists and reads). */
function moving(
  dir: string,
  hook: () => Promise<void>,
): Pick<Endpoint, 'label' | 'list' | 'stat' | 'readFile'> {
  const real = localEndpoint(root());
  let done = false;
  return {
    label: real.label,
    list: async (d) => {
      if (d === dir && !done) {
        done = true;
        await hook();
      }
      const entries = await real.list(d);
      // Agents in name order (dispatch before human), whatever order the file system lists them in.
      return d === 'agents' ? entries.sort((x, y) => (x.name < y.name ? -1 : 1)) : entries;
    },
    stat: (r) => real.stat(r),
    readFile: (r) => real.readFile(r),
  };
}

describe('scanElsewhere', () => {
  it('finds wanted ids outside the host agents only, and reads nothing else', async () => {
    await put('agents/dispatch/inbox/a.md', 'a');
    await put('agents/human/archive/b.md', 'b');
    await put('agents/r0/outbox/c.md', 'c');
    await put('agents/dispatch/inbox/other.md', 'other');
    const found = await scanElsewhere(localEndpoint(root()), ['r0'], new Set(['a', 'b', 'c']));
    expect([...found.keys()].sort()).toEqual(['a', 'b']);
    expect(found.get('a')).toMatchObject({ loc: 'dispatch/inbox', path: 'agents/dispatch/inbox/a.md' });
    expect(found.get('b')?.loc).toBe('human/archive');
  });

  it('sees a task archived while its agent is listed (source box listed before the destination)', async () => {
    await put('agents/dispatch/inbox/a.md', 'a');
    const ep = moving('agents/dispatch/outbox', () =>
      move('agents/dispatch/inbox/a.md', 'agents/dispatch/archive/a.md'),
    );
    const found = await scanElsewhere(ep as Endpoint, ['r0'], new Set(['a']));
    expect(found.get('a')?.loc).toBe('dispatch/archive');
  });

  it('sees a task moved between agents against the listing order (second look)', async () => {
    await put('agents/human/outbox/a.md', 'a');
    // dispatch is listed before human: the task moves from human's outbox to dispatch's inbox after
    // dispatch was listed and before human is.
    const ep = moving('agents/human/inbox', () =>
      move('agents/human/outbox/a.md', 'agents/dispatch/inbox/a.md'),
    );
    const found = await scanElsewhere(ep as Endpoint, ['r0'], new Set(['a']));
    expect(found.get('a')?.loc).toBe('dispatch/inbox');
  });

  it('lists nothing when nothing is wanted', async () => {
    const ep = moving('agents', () => Promise.reject(new Error('listed')));
    expect((await scanElsewhere(ep as Endpoint, ['r0'], new Set())).size).toBe(0);
  });
});
