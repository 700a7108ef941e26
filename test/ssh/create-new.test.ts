// A file the sync creates where none was is written without its lock (link(2) after temp + fsync;
// docs/sync.md, "Creating without the lock"). These try to make that lose something: a file, link or
// folder already there, and a writer that took the lock, saw no file and renames its own over ours.

import { lstat, mkdir, mkdtemp, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { putIfHolds } from '../../src/endpoint/conditional.js';
import { afterLink, localEndpoint } from '../../src/endpoint/local.js';
import { sha256Hex as sha256 } from '../../src/hash.js';

const fresh = async () => {
  const root = await mkdtemp(join(tmpdir(), 'mr-create-'));
  await mkdir(join(root, 'inbox'));
  return { root, e: localEndpoint(root) };
};
const leftovers = async (dir: string) => (await readdir(dir)).filter((n) => n.includes('.tmp'));

describe('creating a file without its lock', () => {
  it('creates the file whole, leaves no temp file and no lock folder', async () => {
    const { root, e } = await fresh();
    expect(await e.createNew!('inbox/a.md', Buffer.from('new'))).toBe('created');
    expect(await readFile(join(root, 'inbox/a.md'), 'utf8')).toBe('new');
    expect(await readdir(join(root, 'inbox'))).toEqual(['a.md']);
  });

  it('says what it saw at the name after the link: the stat of the file it created, and only then', async () => {
    const { root, e } = await fresh();
    const seen: unknown[] = [];
    const mtimeMs = Date.now() - 5_000;
    const made = await e.createNew!('inbox/a.md', Buffer.from('twelve bytes'), {
      mtimeMs,
      seen: (st) => seen.push(st),
    });
    expect(made).toBe('created');
    const st = await lstat(join(root, 'inbox/a.md'));
    expect(seen).toEqual([{ name: 'a.md', kind: 'file', size: 12, mtimeMs: st.mtimeMs }]);
    expect(Math.abs(st.mtimeMs - mtimeMs)).toBeLessThan(1);
    // Something there already: no create, nothing seen.
    expect(await e.createNew!('inbox/a.md', Buffer.from('other'), { seen: (st) => seen.push(st) })).toBe(
      'fallback',
    );
    expect(seen).toHaveLength(1);
  });

  it('never replaces a file, a link or a folder that is there: the locked way decides', async () => {
    const { root, e } = await fresh();
    await writeFile(join(root, 'inbox/file.md'), 'theirs');
    await writeFile(join(root, 'target'), 'outside');
    await symlink(join(root, 'target'), join(root, 'inbox/link.md'));
    await mkdir(join(root, 'inbox/dir.md'));
    for (const name of ['file.md', 'link.md', 'dir.md'])
      expect(await e.createNew!(`inbox/${name}`, Buffer.from('ours'))).toBe('fallback');
    expect(await readFile(join(root, 'inbox/file.md'), 'utf8')).toBe('theirs');
    expect(await readFile(join(root, 'target'), 'utf8')).toBe('outside');
    expect((await lstat(join(root, 'inbox/link.md'))).isSymbolicLink()).toBe(true);
    expect(await leftovers(join(root, 'inbox'))).toEqual([]);
    // Through putIfHolds: the file that appeared is not ours to replace (expect: absent).
    expect(await putIfHolds(e, 'inbox/file.md', Buffer.from('ours'), undefined)).toMatchObject({
      skip: expect.stringMatching(/changed during the sync/),
    });
    expect(await readFile(join(root, 'inbox/file.md'), 'utf8')).toBe('theirs');
  });

  it('a writer holding the lock that saw no file and renames its own after our link wins, and the sync says it did not write', async () => {
    const { root, e } = await fresh();
    // The writer: takes the lock and looks (nothing there), as every mailroom writer does.
    const release = await e.lock('inbox/a.md');
    expect(await e.stat('inbox/a.md')).toBeUndefined();
    // The sync creates the file meanwhile; it sees the lock and waits for it.
    const sync = putIfHolds(e, 'inbox/a.md', Buffer.from('ours'), undefined);
    let settled = false;
    void sync.then(() => (settled = true));
    const deadline = Date.now() + 10_000;
    while ((await e.stat('inbox/a.md')) === undefined) {
      if (Date.now() > deadline) throw new Error('the sync never linked its file');
      await new Promise((r) => setImmediate(r));
    }
    expect(settled).toBe(false); // waiting for the writer's lock, not done
    // The writer renames its own file in (it saw none) and releases.
    await writeFile(join(root, 'inbox/.a.md.writer'), 'theirs');
    await rename(join(root, 'inbox/.a.md.writer'), join(root, 'inbox/a.md'));
    await release();
    expect(await sync).toMatchObject({ skip: expect.stringMatching(/changed during the sync/) });
    expect(await readFile(join(root, 'inbox/a.md'), 'utf8')).toBe('theirs');
  });

  it('a lock held on the path when the link is done: contended, whatever the holder does next', async () => {
    const { e } = await fresh();
    const release = await e.lock('inbox/a.md');
    expect(await e.createNew!('inbox/a.md', Buffer.from('ours'))).toBe('contended');
    await release();
  });

  it('with the lock held but the file left as we wrote it, the write counts', async () => {
    const { root, e } = await fresh();
    const release = await e.lock('inbox/a.md');
    const sync = putIfHolds(e, 'inbox/a.md', Buffer.from('ours'), undefined);
    while ((await e.stat('inbox/a.md')) === undefined) await new Promise((r) => setImmediate(r));
    await release();
    expect(await sync).toEqual({ done: 'written' });
    expect(sha256(await readFile(join(root, 'inbox/a.md')))).toBe(sha256(Buffer.from('ours')));
  });
});

// The racing writer W took the lock and saw no file before our link; it renames its file in, then
// releases. Our two looks may fall anywhere among those two steps: 'created' must never be answered
// when W's rename replaces (or has replaced) our file.
describe('afterLink: every interleaving of a racing writer with the two looks', () => {
  const ours = 7;
  const schedules: string[][] = [];
  const looks = ['look', 'look'];
  const steps = ['rename', 'release'];
  const weave = (a: string[], b: string[], acc: string[]) => {
    if (a.length === 0 && b.length === 0) schedules.push(acc);
    if (a.length > 0) weave(a.slice(1), b, [...acc, a[0]!]);
    if (b.length > 0) weave(a, b.slice(1), [...acc, b[0]!]);
  };
  weave(looks, steps, []);

  it.each(schedules.map((s) => [s.join(' > '), s] as const))('%s', (_name, schedule) => {
    let renamed = false;
    let released = false;
    let at = 0;
    // Each look runs the writer's steps scheduled before it, then looks at the world.
    const advance = () => {
      while (schedule[at] !== 'look') {
        if (schedule[at] === 'rename') renamed = true;
        else released = true;
        at++;
      }
      at++;
    };
    const verdict = afterLink({
      lockHeld: () => {
        advance();
        return !released;
      },
      inoNow: () => {
        advance();
        return renamed ? ours + 1 : ours;
      },
      ours,
    });
    // W renames at some point in every schedule: our file is replaced, so 'created' is never right.
    expect(verdict).toBe('contended');
  });
});
