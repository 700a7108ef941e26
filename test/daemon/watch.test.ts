// The watcher never follows a link (docs/spec.md §1): a box or agent folder that is a link to a folder
// outside the root gives no hints about what happens out there. Real folders, real file events, in
// both modes.

import { type FSWatcher, watch } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Watcher, watchPaths } from '../../daemon/watch.js';
import { pollUntil } from '../support/poll.js';

let dir: string;
let watcher: Watcher | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-watch-'));
});
afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  await rm(dir, { recursive: true, force: true });
});

for (const polling of [false, true]) {
  describe(polling ? 'polling' : 'native events', () => {
    it('does not watch through a box or agent folder that is a link', async () => {
      const agents = join(dir, 'agents');
      const outside = join(dir, 'outside');
      await mkdir(join(agents, 'human/outbox'), { recursive: true });
      await mkdir(join(outside, 'sub'), { recursive: true });
      await symlink(outside, join(agents, 'human/inbox'));
      const hints: string[] = [];
      watcher = await watchPaths([agents], (p) => hints.push(p), { polling });
      // A link that appears while watching (a new agent folder) is not watched into either.
      await symlink(outside, join(agents, 'evil'));
      await pollUntil('the hint for the new link', () => hints.some((h) => h.endsWith('evil')), 10_000);
      // Writes outside first, then in a real box: once the real ones are seen, the earlier ones
      // would have been too.
      await writeFile(join(outside, 'notes.md'), 'private\n');
      await writeFile(join(outside, 'sub/inner.md'), 'private\n');
      for (const n of ['a.md', 'b.md']) {
        await writeFile(join(agents, 'human/outbox', n), 'x\n');
        await pollUntil(`the hint for ${n}`, () => hints.some((h) => h.endsWith(n)), 10_000);
      }
      expect(hints.filter((h) => h.includes('notes.md') || h.includes('inner.md'))).toEqual([]);
    });

    it('a folder that appears with files already in it (moved in, or written before the watch began) reports them', async () => {
      const agents = join(dir, 'agents');
      await mkdir(join(agents, 'worker'), { recursive: true });
      // Prepared outside, then moved in whole: the only event under watch is the folder's.
      const staged = join(dir, 'staged-outbox');
      await mkdir(staged);
      await writeFile(join(staged, 'task.md'), 'x\n');
      const hints: string[] = [];
      watcher = await watchPaths([agents], (p) => hints.push(p), { polling });
      await rename(staged, join(agents, 'worker/outbox'));
      await pollUntil(
        'the hint for the file inside the new folder',
        () => hints.some((h) => h.endsWith('worker/outbox/task.md')),
        10_000,
      );
    });
  });
}

// A native watch that fails (ENOSPC when the system's inotify watches are used up, a folder's
// watcher erroring) is reported, and the hints go on from the poller. Before, the failed folder gave
// no hint again: a far agent streamed nothing, and its hub pulled every few minutes.
describe('native events that fail', () => {
  const enospc = () =>
    Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), {
      code: 'ENOSPC',
    });
  // fs.watch when the system's inotify watches are used up: every call throws.
  const noWatch = (() => {
    throw enospc();
  }) as unknown as typeof watch;

  it('a watcher that errors after the start: reported, and later changes are hinted by polling', async () => {
    const agents = join(dir, 'agents');
    await mkdir(join(agents, 'worker/outbox'), { recursive: true });
    const made: FSWatcher[] = [];
    const failing = ((path: string, listener: (event: string, name: string | null) => void) => {
      const w = watch(path, listener);
      made.push(w);
      return w;
    }) as typeof watch;
    const hints: string[] = [];
    const errors: unknown[] = [];
    watcher = await watchPaths([agents], (p) => hints.push(p), {
      fsWatch: failing,
      onError: (err) => errors.push(err),
    });
    made.at(-1)!.emit('error', enospc());
    expect(errors).toHaveLength(1);
    // Once the poller has taken its first look, it hints each watched path (for what changed before).
    await pollUntil('the hint for the watched folder', () => hints.includes(agents), 10_000);
    await writeFile(join(agents, 'worker/outbox/late.md'), 'x\n');
    await pollUntil(
      'the hint for a file written after the failure',
      () => hints.some((h) => h.endsWith('late.md')),
      10_000,
    );
  });

  it('no watch at all from the start (ENOSPC): reported, and changes are hinted by polling', async () => {
    const agents = join(dir, 'agents');
    await mkdir(join(agents, 'worker/inbox'), { recursive: true });
    const hints: string[] = [];
    const errors: unknown[] = [];
    watcher = await watchPaths([agents], (p) => hints.push(p), {
      fsWatch: noWatch,
      onError: (err) => errors.push(err),
    });
    expect(errors.length).toBeGreaterThan(0);
    await pollUntil('the hint for the watched folder', () => hints.includes(agents), 10_000);
    await writeFile(join(agents, 'worker/inbox/new.md'), 'x\n');
    await pollUntil(
      'the hint for a new file',
      () => hints.some((h) => h.endsWith('worker/inbox/new.md')),
      10_000,
    );
    // One poller, however many folders failed: closing it stops the hints.
    await watcher.close();
    watcher = undefined;
    const seen = hints.length;
    await writeFile(join(agents, 'worker/inbox/after-close.md'), 'x\n');
    await new Promise((r) => setTimeout(r, 600));
    expect(hints.length).toBe(seen);
  });

  it('closed while the poller takes its first look: no hint after the close', async () => {
    const agents = join(dir, 'agents');
    await mkdir(join(agents, 'worker/inbox'), { recursive: true });
    const hints: string[] = [];
    const w = await watchPaths([agents], (p) => hints.push(p), {
      fsWatch: noWatch,
      onError: () => {},
    });
    await w.close();
    const seen = hints.length;
    await new Promise((r) => setTimeout(r, 600));
    expect(hints.slice(seen)).toEqual([]);
    expect(hints).not.toContain(agents);
  });
});
