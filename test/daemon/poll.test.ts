// The polling watcher (daemon/poll.ts) on real folders: what it reports and what it never does. A
// change that must not be reported is followed by one that must; once the second is seen, the look
// that saw it had the first in it too.

import { mkdir, mkdtemp, rename, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type Poller, pollTree } from '../../daemon/poll.js';
import { pollUntil } from '../support/poll.js';

let dir: string;
let agents: string;
let poller: Poller | undefined;
let hints: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-poll-'));
  agents = join(dir, 'agents');
  await mkdir(join(agents, 'worker/inbox'), { recursive: true });
  hints = [];
});
afterEach(async () => {
  await poller?.close();
  poller = undefined;
  await rm(dir, { recursive: true, force: true });
});

const start = async (errors: unknown[] = []) => {
  poller = await pollTree([agents], (p) => hints.push(p), {
    depth: 2,
    intervalMs: 10,
    ignore: (p) => p.endsWith('.tmp'),
    onError: (e) => errors.push(e),
  });
};
const seen = (suffix: string) =>
  pollUntil(`the hint for ${suffix}`, () => hints.some((h) => h.endsWith(suffix)), 10_000);
const sentinel = async (name: string) => {
  await writeFile(join(agents, 'worker/inbox', name), 'x\n');
  await seen(`worker/inbox/${name}`);
};

it('what was there before it started is its baseline; what comes after, at once, is reported', async () => {
  await writeFile(join(agents, 'worker/inbox/before.md'), 'x\n');
  await start();
  // Moved in whole right after the start: the folder's only change is one rename.
  const staged = join(dir, 'staged');
  await mkdir(staged);
  await writeFile(join(staged, 'task.md'), 'x\n');
  await rename(staged, join(agents, 'worker/outbox'));
  await seen('worker/outbox/task.md');
  expect(hints).toContain(join(agents, 'worker/outbox'));
  expect(hints.filter((h) => h.endsWith('before.md'))).toEqual([]);
});

it('an edit in place that keeps the size, a removal and a save by rename are each reported', async () => {
  const file = join(agents, 'worker/inbox/t.md');
  const other = join(agents, 'worker/inbox/u.md');
  await writeFile(file, 'aaaa\n');
  await writeFile(other, 'cccc\n');
  await start();
  await writeFile(file, 'bbbb\n');
  await utimes(file, new Date(), new Date(Date.now() + 5_000)); // a clock tick can hide a rewrite
  await seen('inbox/t.md');
  hints.length = 0;
  await unlink(file);
  await seen('inbox/t.md');
  hints.length = 0;
  await writeFile(join(dir, 'u.new'), 'dddd\n');
  await rename(join(dir, 'u.new'), other);
  await seen('inbox/u.md');
});

it('a settled folder is not listed again, yet an edit in place among 600 files and a save by rename are seen', async () => {
  const inbox = join(agents, 'worker/inbox');
  for (let i = 0; i < 600; i++) await writeFile(join(inbox, `t${i}.md`), 'aaaa\n');
  const past = new Date(Date.now() - 60_000);
  await utimes(inbox, past, past); // no change in it for a minute: its listing is taken as it was
  await start();
  // Written in place: the folder's stamp does not move; the files are looked at in turns.
  await writeFile(join(inbox, 't431.md'), 'bbbbbb\n');
  await seen('inbox/t431.md');
  await utimes(inbox, past, past);
  hints.length = 0;
  // Saved by rename: the folder's stamp moves, and it is listed again at once.
  await writeFile(join(dir, 'new'), 'cccc\n');
  await rename(join(dir, 'new'), join(inbox, 't900.md'));
  await seen('inbox/t900.md');
});

it('a folder removed, or moved away whole, is reported with what it held', async () => {
  await writeFile(join(agents, 'worker/inbox/t.md'), 'x\n');
  await mkdir(join(agents, 'other/outbox'), { recursive: true });
  await writeFile(join(agents, 'other/outbox/u.md'), 'x\n');
  await start();
  await rm(join(agents, 'worker'), { recursive: true });
  await rename(join(agents, 'other'), join(dir, 'moved-away'));
  await seen('worker/inbox/t.md');
  await seen('other/outbox/u.md');
});

it('goes no deeper than asked, never into a link, and never reports an ignored name', async () => {
  const outside = join(dir, 'outside');
  await mkdir(outside);
  await mkdir(join(agents, 'worker/inbox/sub'));
  await start();
  await symlink(outside, join(agents, 'worker/outbox'));
  await seen('worker/outbox');
  await writeFile(join(outside, 'private.md'), 'x\n');
  await writeFile(join(agents, 'worker/inbox/sub/deep.md'), 'x\n');
  await writeFile(join(agents, 'worker/inbox/w.tmp'), 'x\n');
  await sentinel('after.md');
  expect(hints.filter((h) => /private|deep|\.tmp$/.test(h))).toEqual([]);
});

it('a watched path that is missing at the start is reported when it appears; "gone" is no error', async () => {
  const errors: unknown[] = [];
  await rm(join(agents, 'worker'), { recursive: true });
  await start(errors);
  await mkdir(join(agents, 'worker/inbox'), { recursive: true });
  await sentinel('first.md');
  expect(errors).toEqual([]);
});

it('after close, no look is running and none is started', async () => {
  await start();
  await poller?.close();
  poller = undefined;
  const before = hints.length;
  await writeFile(join(agents, 'worker/inbox/late.md'), 'x\n');
  // A look takes ~1 ms here: 30 intervals of 10 ms would have run some.
  await new Promise((r) => setTimeout(r, 300));
  expect(hints.length).toBe(before);
});
