// `mailroom doctor` on what interrupted writes and killed processes leave in the boxes: temp files
// and lock folders, removed by --fix once they are stale (a temp file over a minute old, a lock not
// refreshed for longer than a lock's stale time), never a task and never anything fresh.

import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMailroom, requireBuild } from '../support/cli.js';

requireBuild();

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research']);
});
afterAll(async () => env.cleanup());

interface Finding {
  check: string;
  path: string;
  fixed?: boolean;
}

async function findings(args: string[] = []): Promise<Finding[]> {
  const r = await env.mr(['doctor', '--json', ...args]);
  return (JSON.parse(r.stdout) as { findings: Finding[] }).findings.filter(
    (f) => f.check === 'temp' || f.check === 'locks',
  );
}

const hourAgo = () => new Date(Date.now() - 3600_000);

describe('doctor: what interrupted writes leave in a box', () => {
  it('finds old temp files and stale locks, removes them with --fix, keeps fresh ones and tasks', async () => {
    const inbox = join(env.root, 'agents/research/inbox');
    const outbox = join(env.root, 'agents/research/outbox');
    await mkdir(inbox, { recursive: true });
    await mkdir(outbox, { recursive: true });
    const id = await env.send('a task that stays');
    const oldTemp = join(inbox, '.t1.md.tmp-aaaaaaaaaaaa');
    const oldLock = join(outbox, 't2.md.lock');
    await writeFile(oldTemp, 'half a task');
    await mkdir(oldLock);
    for (const path of [oldTemp, oldLock]) await utimes(path, hourAgo(), hourAgo());
    await writeFile(join(inbox, '.t3.md.tmp-cccccccccccc'), 'a write in progress');
    await mkdir(join(outbox, 't4.md.lock'));

    expect((await findings()).map((f) => `${f.check} ${f.path}`).sort()).toEqual([
      'locks agents/research/outbox/t2.md.lock',
      'temp agents/research/inbox/.t1.md.tmp-aaaaaaaaaaaa',
    ]);
    const fixed = await findings(['--fix']);
    expect(fixed).toHaveLength(2);
    expect(fixed.every((f) => f.fixed === true)).toBe(true);
    expect((await readdir(inbox)).sort()).toEqual(['.t3.md.tmp-cccccccccccc', `${id}.md`]);
    expect(await readdir(outbox)).toEqual(['t4.md.lock']);
    expect(await findings()).toEqual([]);
  });
});
