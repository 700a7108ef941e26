// The daemon folds a copy of a finished task that came back into its sender's inbox after the sender
// archived it (a sync pulling a far copy back, as in torture defect D2), when the bytes are the same;
// different bytes are reported, never guessed at. The daemon's own pass over real folders.

import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PassState, runPass } from '../../daemon/pass.js';
import { ReportBook } from '../../daemon/reports.js';
import { openMailroom } from '../../src/mailroom.js';
import { makeRoot, taskText, tempDir } from '../../torture/support.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let root: string;
beforeEach(async () => {
  tmp = await tempDir('heal');
  root = join(tmp.dir, 'mr');
  await makeRoot(root, 'agents:\n  dispatch: {}\n  human: {}\n  r0: {}\n', ['dispatch', 'r0']);
});
afterEach(async () => tmp.cleanup());

const pass = async () => {
  const mr = await openMailroom(root);
  const state: PassState = { reports: new ReportBook(mr), known: new Map() };
  return runPass(mr, state);
};
const done = (body: string) => taskText({ id: 'back', from: 'dispatch', to: 'r0', state: 'done' }, body);

describe('a finished task back in its sender inbox after it was archived', () => {
  it('is folded into the archived copy when the bytes are the same', async () => {
    // One text for both copies: taskText stamps the current second, which may tick between two calls.
    const text = done('Result.\n');
    await writeFile(join(root, 'agents/dispatch/archive/back.md'), text);
    await writeFile(join(root, 'agents/dispatch/inbox/back.md'), text);
    const out = await pass();
    expect(out.problems).toEqual([]);
    expect(await readdir(join(root, 'agents/dispatch/inbox'))).toEqual([]);
    expect(await readFile(join(root, 'agents/dispatch/archive/back.md'), 'utf8')).toBe(text);
  });

  it('is reported, and both copies kept, when the bytes differ', async () => {
    const archived = done('Result.\n');
    const back = done('Another result.\n');
    await writeFile(join(root, 'agents/dispatch/archive/back.md'), archived);
    await writeFile(join(root, 'agents/dispatch/inbox/back.md'), back);
    const out = await pass();
    expect(out.problems).toEqual([
      {
        path: 'agents/dispatch/inbox/back.md',
        reason: 'task back is also in agents/dispatch/archive/back.md, with different content',
      },
    ]);
    expect(await readFile(join(root, 'agents/dispatch/inbox/back.md'), 'utf8')).toBe(back);
    expect(await readFile(join(root, 'agents/dispatch/archive/back.md'), 'utf8')).toBe(archived);
  });
});
