// The daemon's parse cache: an idle rescan must not re-read unchanged tasks, and must never miss a
// change, even one that keeps the size and puts the mtime back (the ctime tells), or one made by
// replacing the file (a new inode).

import { readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PassState, runPass } from '../../daemon/pass.js';
import { ReportBook } from '../../daemon/reports.js';
import { type Mailroom, openMailroom } from '../../src/mailroom.js';
import { newMailroom } from '../support/cli.js';
import { pollUntil } from '../support/poll.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
let mr: Mailroom;
beforeEach(async () => {
  env = await newMailroom(['research']);
  mr = await openMailroom(env.root);
});
afterEach(async () => env.cleanup());

/** Passes until the daemon caches the parse of `path` (its mtime and ctime must be 2 s old). */
async function untilCached(state: PassState, path: string): Promise<void> {
  await pollUntil(
    'the parse to be cached',
    async () => {
      await runPass(mr, state);
      return state.parsed?.has(path) === true;
    },
    15_000,
    200,
  );
}

function newState(): PassState {
  return { reports: new ReportBook(mr), known: new Map() };
}

async function sendTask(title: string): Promise<{ id: string; path: string }> {
  const r = await env.mr(['send', 'research', title]);
  expect(r.code, r.stderr).toBe(0);
  const id = r.stdout.trim();
  return { id, path: join(env.root, 'agents/research/inbox', `${id}.md`) };
}

describe('daemon pass cache', () => {
  it('reuses the parse of an unchanged file, and sees same-size edits with the mtime put back', async () => {
    const { id, path } = await sendTask('aaaa');
    const anHourAgo = Math.floor(Date.now() / 1000) - 3600; // whole seconds: restorable exactly
    await utimes(path, anHourAgo, anHourAgo);
    const state = newState();
    // A file is cached only once its mtime and ctime are 2 s older than the read (racy rule).
    await untilCached(state, path);
    const first = (await runPass(mr, state)).tasks.find((t) => t.id === id)!;
    const second = (await runPass(mr, state)).tasks.find((t) => t.id === id)!;
    expect(second.task).toBe(first.task); // the same object: not read, not parsed again

    const before = await stat(path);
    await writeFile(path, (await readFile(path, 'utf8')).replace('title: aaaa', 'title: bbbb'));
    await utimes(path, anHourAgo, anHourAgo);
    expect((await stat(path)).size).toBe(before.size);
    expect((await stat(path)).mtimeMs).toBe(before.mtimeMs);
    const edited = (await runPass(mr, state)).tasks.find((t) => t.id === id)!;
    expect(edited.task.title).toBe('bbbb');
  });

  it('sees a file replaced by rename, and forgets files that are gone', async () => {
    const { id, path } = await sendTask('before');
    const state = newState();
    await untilCached(state, path);
    await writeFile(`${path}.tmp`, (await readFile(path, 'utf8')).replace('title: before', 'title: after!'));
    await rename(`${path}.tmp`, path);
    expect((await runPass(mr, state)).tasks.find((t) => t.id === id)?.task.title).toBe('after!');

    expect((await env.mr(['reassign', id, 'dispatch'])).code).toBe(0);
    const out = await runPass(mr, state);
    expect(out.tasks.find((t) => t.id === id)?.agent).toBe('dispatch');
    expect(state.parsed?.has(path)).toBe(false);
  });
});
