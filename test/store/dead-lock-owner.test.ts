// A task lock left by a killed process is taken over at once when its owner is known to be dead
// (store/lock.ts's owner note), instead of stalling every waiter until it goes stale (10 s), as the
// daemon's own lock already did. Real processes, a real kill -9.

import { spawn } from 'node:child_process';
import { lstat, mkdir, readdir, rmdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileLocker, ownerPath } from '../../src/store/lock.js';
import { REPO, requireBuild, tempDir } from '../support/cli.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir('dead-lock-');
});
afterEach(async () => tmp.cleanup());

/** A process holding the lock on `path`, once it says so. */
async function holder(path: string) {
  requireBuild();
  const child = spawn(process.execPath, [join(REPO, 'test/fixtures/hold-lock.mjs'), path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    child.on('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
  return child;
}

describe('a task lock whose owner was killed', () => {
  it('stale task lock of a dead owner is taken at once (was: waited until stale, here past the timeout)', async () => {
    const path = join(tmp.dir, 't.md');
    await writeFile(path, 'x');
    const child = await holder(path);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // staleMs far beyond timeoutMs: only the dead-owner rule can let this through.
    const locker = fileLocker({ staleMs: 600_000, timeoutMs: 3_000 });
    await expect(locker(path, async () => 'got it')).resolves.toBe('got it');
    expect((await readdir(tmp.dir)).sort()).toEqual(['t.md']); // no lock, no owner note left
  });

  it('a lock whose owner is alive is not taken', async () => {
    const path = join(tmp.dir, 'u.md');
    await writeFile(path, 'x');
    const child = await holder(path);
    try {
      const locker = fileLocker({ staleMs: 600_000, timeoutMs: 300 });
      await expect(locker(path, async () => 'got it')).rejects.toThrow(/locked by another mailroom process/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it("a new lock folder that reuses the dead owner's inode is a live lock, not taken (10 claimers lost one)", async () => {
    const path = join(tmp.dir, 'v.md');
    await writeFile(path, 'x');
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.once('exit', r));
    // The dead owner's lock folder and its note, as it left them.
    await mkdir(`${path}.lock`);
    const old = await lstat(`${path}.lock`);
    await writeFile(ownerPath(path), `${hostname()} ${dead.pid} ${old.ino} ${old.birthtimeMs}\n`);
    // The folder goes and another (live) process makes the lock again: often the very same inode.
    let fresh = old;
    for (let i = 0; i < 50 && (fresh.ino !== old.ino || fresh.birthtimeMs === old.birthtimeMs); i++) {
      await rmdir(`${path}.lock`);
      await mkdir(`${path}.lock`);
      fresh = await lstat(`${path}.lock`);
    }
    // Usually the same inode (the case that fooled an inode-only check); the file system may pick
    // another, and then the lock must not be taken either.
    const locker = fileLocker({ staleMs: 600_000, timeoutMs: 300 });
    await expect(locker(path, async () => 'got it')).rejects.toThrow(/locked by another mailroom process/);
    expect((await lstat(`${path}.lock`)).ino).toBe(fresh.ino);
  });
});
