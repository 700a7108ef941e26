// The Endpoint contract (src/endpoint/endpoint.ts) as one suite, run unchanged against every
// implementation. Each test gets a fresh root folder on this machine's disk; for the SFTP endpoint
// the test sshd serves that same folder, so the test can arrange and inspect the far side directly.

import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Endpoint } from '../../src/endpoint/endpoint.js';
import { isTempName } from '../../src/endpoint/rel-path.js';
import { expectMailroomError } from './errors.js';
import { pollUntil } from './poll.js';

export function endpointContract(open: (rootOnDisk: string) => Promise<Endpoint>): void {
  let root: string;
  let ep: Endpoint;
  let outside: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'mailroom-ep-'));
    outside = await mkdtemp(join(tmpdir(), 'mailroom-outside-'));
    ep = await open(root);
  });
  afterEach(async () => {
    await ep.close();
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  const onDisk = (rel: string) => join(root, ...rel.split('/'));
  const leftovers = async (relDir: string) => (await readdir(onDisk(relDir))).filter(isTempName);

  it('lists an empty root and a missing folder as []', async () => {
    expect(await ep.list('')).toEqual([]);
    expect(await ep.list('agents/nobody/inbox')).toEqual([]);
    expect(await ep.stat('agents/nobody/inbox/x.md')).toBeUndefined();
  });

  it('writes atomically into new folders, reads back, stats and lists', async () => {
    await ep.writeFileAtomic('agents/research/inbox/t1.md', Buffer.from('hello\n'));
    expect((await readFile(onDisk('agents/research/inbox/t1.md'))).toString()).toBe('hello\n');
    expect((await ep.readFile('agents/research/inbox/t1.md')).toString()).toBe('hello\n');
    expect(await ep.stat('agents/research/inbox/t1.md')).toMatchObject({
      name: 't1.md',
      kind: 'file',
      size: 6,
    });
    expect(await ep.stat('agents/research')).toMatchObject({ name: 'research', kind: 'dir' });
    const listed = await ep.list('agents/research/inbox');
    expect(listed.map((e) => [e.name, e.kind, e.size])).toEqual([['t1.md', 'file', 6]]);
    expect(listed[0]!.mtimeMs).toBeGreaterThan(0);
    expect(await leftovers('agents/research/inbox')).toEqual([]);
  });

  it('writeFileAtomic over an existing file replaces it whole', async () => {
    await mkdir(onDisk('a'), { recursive: true });
    await writeFile(onDisk('a/t.md'), 'old content that is longer than the new one\n');
    await ep.writeFileAtomic('a/t.md', Buffer.from('new\n'));
    expect(await readFile(onDisk('a/t.md'), 'utf8')).toBe('new\n');
    expect(await leftovers('a')).toEqual([]);
  });

  it('round-trips 1 MB and empty files byte for byte', async () => {
    const big = Buffer.alloc(1024 * 1024 + 7);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    await ep.writeFileAtomic('big.bin', big);
    expect((await readFile(onDisk('big.bin'))).equals(big)).toBe(true);
    expect((await ep.readFile('big.bin')).equals(big)).toBe(true);
    await ep.writeFileAtomic('empty', Buffer.alloc(0));
    expect((await ep.readFile('empty')).length).toBe(0);
    // Around the SFTP read size (64 KB): a short read that ends at the file's size ends the file.
    for (const size of [1, 65_535, 65_536, 65_537, 131_072]) {
      const bytes = big.subarray(0, size);
      await writeFile(onDisk(`s${size}`), bytes);
      expect((await ep.readFile(`s${size}`)).equals(bytes), `${size} bytes`).toBe(true);
    }
  });

  it('lists many entries in one call, with kinds', async () => {
    // 450: over SFTP several READDIR answers (OpenSSH sends at most 100 names in one), in two bursts.
    await mkdir(onDisk('box/sub'), { recursive: true });
    await Promise.all(
      Array.from({ length: 450 }, (_, i) => writeFile(onDisk(`box/t${i}.md`), 'x'.repeat(i))),
    );
    const listed = await ep.list('box');
    expect(listed).toHaveLength(451);
    expect(new Set(listed.map((e) => e.name)).size).toBe(451);
    expect(listed.find((e) => e.name === 'sub')?.kind).toBe('dir');
    expect(listed.find((e) => e.name === 't42.md')).toMatchObject({ kind: 'file', size: 42 });
  });

  it('a name of 255 bytes (NAME_MAX) can be written: the temp name beside it is cut to fit', async () => {
    const long = `${'é'.repeat(100)}${'n'.repeat(52)}.md`; // 200 + 52 + 3 = 255 bytes
    expect(Buffer.byteLength(long)).toBe(255);
    await ep.writeFileAtomic(`d/${long}`, Buffer.from('long\n'));
    expect((await ep.readFile(`d/${long}`)).toString()).toBe('long\n');
    await ep.writeFileAtomic(`d/${long}`, Buffer.from('again\n'));
    expect(await readFile(onDisk(`d/${long}`), 'utf8')).toBe('again\n');
    expect(await leftovers('d')).toEqual([]);
  });

  it('readFile: over the given limit is refused by name without reading it whole', async () => {
    await writeFile(onDisk('big.bin'), Buffer.alloc(70_000, 1));
    await expectMailroomError(
      ep.readFile('big.bin', { maxBytes: 65_536 }),
      'refused',
      /big\.bin is 68\.4 KB, over the 64\.0 KB limit/,
    );
    expect((await ep.readFile('big.bin', { maxBytes: 70_000 })).length).toBe(70_000);
  });

  it('readFile: missing is notFound, a folder is refused', async () => {
    await expectMailroomError(ep.readFile('nope.md'), 'notFound', /nope\.md does not exist/);
    await mkdir(onDisk('d'));
    await expectMailroomError(ep.readFile('d'), 'refused', /folder, not a file/);
  });

  it('a symlink is listed as a symlink, never followed by readFile, stat or remove', async () => {
    await writeFile(join(outside, 'secret'), 'outside the root');
    await mkdir(onDisk('inbox'));
    await symlink(join(outside, 'secret'), onDisk('inbox/t.md'));
    const listed = await ep.list('inbox');
    expect(listed.map((e) => [e.name, e.kind])).toEqual([['t.md', 'symlink']]);
    expect(await ep.stat('inbox/t.md')).toMatchObject({ kind: 'symlink' });
    await expectMailroomError(ep.readFile('inbox/t.md'), 'refused', /symbolic link/);
    await ep.remove('inbox/t.md');
    expect(await readdir(onDisk('inbox'))).toEqual([]);
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('outside the root');
  });

  it('a symlinked folder is never passed through: list, read, write, mkdirp and lock refuse', async () => {
    await writeFile(join(outside, 'x.md'), 'outside');
    await mkdir(onDisk('agents'));
    await symlink(outside, onDisk('agents/evil'));
    await expectMailroomError(ep.list('agents/evil'), 'refused', /agents\/evil is a symbolic link/);
    await expectMailroomError(ep.readFile('agents/evil/x.md'), 'refused', /agents\/evil is a symbolic link/);
    await expectMailroomError(ep.stat('agents/evil/x.md'), 'refused', /symbolic link/);
    await expectMailroomError(
      ep.writeFileAtomic('agents/evil/y.md', Buffer.from('no')),
      'refused',
      /symbolic link/,
    );
    await expectMailroomError(
      ep.writeFileAtomic('agents/evil/new/y.md', Buffer.from('no')),
      'refused',
      /symbolic link/,
    );
    await expectMailroomError(ep.mkdirp('agents/evil/inbox'), 'refused', /symbolic link/);
    await expectMailroomError(ep.lock('agents/evil/x.md', { timeoutMs: 100 }), 'refused', /symbolic link/);
    await expectMailroomError(ep.remove('agents/evil/x.md'), 'refused', /symbolic link/);
    expect((await readdir(outside)).sort()).toEqual(['x.md']);
  });

  it('refuses paths that could leave the root, before any IO', async () => {
    const bad = ['../x', 'a/../../x', '/etc/passwd', 'a//b', 'a/./b', 'a/', './a', '..', 'a/\0b'];
    for (const rel of bad) {
      await expectMailroomError(ep.readFile(rel), 'usage', /refusing path/);
      await expectMailroomError(ep.writeFileAtomic(rel, Buffer.from('x')), 'usage', /refusing path/);
      await expectMailroomError(ep.list(rel), 'usage', /refusing path/);
      await expectMailroomError(ep.stat(rel), 'usage', /refusing path/);
      await expectMailroomError(ep.remove(rel), 'usage', /refusing path/);
      await expectMailroomError(ep.mkdirp(rel), 'usage', /refusing path/);
      await expectMailroomError(ep.lock(rel), 'usage', /refusing path/);
    }
    await expectMailroomError(ep.readFile(''), 'usage', /empty/);
  });

  it('remove: files, empty folders, missing is fine, a non-empty folder is refused', async () => {
    await mkdir(onDisk('d/e'), { recursive: true });
    await writeFile(onDisk('d/f'), 'x');
    await ep.remove('d/f');
    await ep.remove('d/f');
    await ep.remove('never/was');
    await expectMailroomError(ep.remove('d'), 'refused', /not empty/);
    await ep.remove('d/e');
    expect(await readdir(onDisk('d'))).toEqual([]);
  });

  it('mkdirp: nested, idempotent, refuses to go through a file', async () => {
    await ep.mkdirp('a/b/c');
    await ep.mkdirp('a/b/c');
    await ep.mkdirp('');
    expect((await stat(onDisk('a/b/c'))).isDirectory()).toBe(true);
    await writeFile(onDisk('a/file'), 'x');
    await expectMailroomError(ep.mkdirp('a/file/d'), 'refused', /a\/file is a file, not a folder/);
    await expectMailroomError(ep.list('a/file'), 'refused', /not a folder/);
  });

  it('lock: a <file>.lock folder while held; waits, then is refused; free again after release', async () => {
    await mkdir(onDisk('inbox'));
    const release = await ep.lock('inbox/t.md');
    expect((await stat(onDisk('inbox/t.md.lock'))).isDirectory()).toBe(true);
    const t0 = Date.now();
    await expectMailroomError(
      ep.lock('inbox/t.md', { timeoutMs: 300 }),
      'refused',
      /locked by another process/,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    await release();
    await expect(stat(onDisk('inbox/t.md.lock'))).rejects.toThrow(/ENOENT/);
    const again = await ep.lock('inbox/t.md', { timeoutMs: 300 });
    await again();
    await again(); // releasing twice is harmless
  });

  it('lock: a waiter gets the lock as soon as the holder releases it', async () => {
    const release = await ep.lock('t.md');
    const waiter = ep.lock('t.md', { timeoutMs: 5_000 });
    await release();
    const second = await waiter;
    await second();
  });

  it('lock: creates the parent folder when missing', async () => {
    const release = await ep.lock('agents/new/inbox/t.md');
    expect((await stat(onDisk('agents/new/inbox/t.md.lock'))).isDirectory()).toBe(true);
    await release();
  });

  it('lock: a root that does not exist is notFound, not an endless retry', async () => {
    await rm(root, { recursive: true, force: true });
    await expectMailroomError(ep.lock('t.md', { timeoutMs: 5_000 }), 'notFound', /does not exist/);
  });

  it('lock: a stale lock (old mtime on its own clock) is taken over', async () => {
    await mkdir(onDisk('t.md.lock'));
    const old = new Date(Date.now() - 60_000);
    await utimes(onDisk('t.md.lock'), old, old);
    const release = await ep.lock('t.md', { staleMs: 10_000, timeoutMs: 2_000 });
    expect((await stat(onDisk('t.md.lock'))).mtimeMs).toBeGreaterThan(old.getTime() + 30_000);
    await release();
    expect((await readdir(root)).filter(isTempName)).toEqual([]); // the clock probe cleaned up after itself
  });

  it('lock: the holder refreshes the mtime, so a live lock never looks stale', async () => {
    const release = await ep.lock('t.md', { staleMs: 2_000 });
    const first = (await stat(onDisk('t.md.lock'))).mtimeMs;
    await pollUntil(
      'the lock mtime to be refreshed',
      async () => (await stat(onDisk('t.md.lock'))).mtimeMs > first,
      6_000,
    );
    await release();
  });

  it('lock: a lock taken over while held is not removed on release, and release says so', async () => {
    const release = await ep.lock('t.md', { staleMs: 10_000 });
    // Another process judged it stale and took it: a new folder with a clearly different mtime.
    await rm(onDisk('t.md.lock'), { recursive: true });
    await mkdir(onDisk('t.md.lock'));
    const theirs = new Date(Date.now() + 30_000);
    await utimes(onDisk('t.md.lock'), theirs, theirs);
    await expectMailroomError(release(), 'refused', /lost the lock/);
    expect((await stat(onDisk('t.md.lock'))).isDirectory()).toBe(true);
  });

  // Folders seen to be real are remembered for a pass (docs/performance.md, WAN); these check that the
  // memo never lets a link through where a look at every path refused it: at a pass boundary, after
  // an error, or at the file itself.
  const swapForLink = async (rel: string) => {
    await rm(onDisk(rel), { recursive: true });
    await symlink(outside, onDisk(rel));
  };

  it('folder memo: a folder swapped for a link is refused after newPass', async () => {
    await ep.writeFileAtomic('a/b/f.md', Buffer.from('x'));
    expect(await ep.list('a/b')).toHaveLength(1);
    await swapForLink('a/b');
    ep.newPass?.();
    await expect(ep.writeFileAtomic('a/b/g.md', Buffer.from('y'))).rejects.toThrow(/a\/b/);
    await expect(ep.readFile('a/b/g.md')).rejects.toThrow(/a\/b/);
    await expect(ep.lock('a/b/g.md')).rejects.toThrow(/a\/b/);
    expect(await readdir(outside)).toEqual([]);
  });

  it('folder memo: an error forgets every folder seen in the pass', async () => {
    await ep.writeFileAtomic('a/b/f.md', Buffer.from('x'));
    expect(await ep.list('a/b')).toHaveLength(1);
    await swapForLink('a/b');
    // Same pass: the memo says a/b is real, the look through the link finds nothing and fails (a far
    // agent, which remembers folders for one message only, refuses the link itself)...
    await expect(ep.readFile('a/b/missing.md')).rejects.toThrow(/does not exist|a\/b/);
    // ...and that error made the endpoint look again.
    await expect(ep.writeFileAtomic('a/b/g.md', Buffer.from('y'))).rejects.toThrow(/a\/b/);
    expect(await readdir(outside)).toEqual([]);
  });

  it('folder memo: the file itself is still looked at without following a link', async () => {
    await ep.writeFileAtomic('a/b/f.md', Buffer.from('x'));
    await writeFile(join(outside, 'secret'), 'secret');
    await rm(onDisk('a/b/f.md'));
    await symlink(join(outside, 'secret'), onDisk('a/b/f.md'));
    await expect(ep.readFile('a/b/f.md')).rejects.toThrow(/link/);
  });

  it('lock: interoperates with proper-lockfile both ways', async () => {
    await writeFile(onDisk('t.md'), 'x');
    const theirs = await lockfile.lock(onDisk('t.md'), { realpath: false });
    await expectMailroomError(ep.lock('t.md', { timeoutMs: 200 }), 'refused', /locked/);
    await theirs();
    const ours = await ep.lock('t.md');
    await expect(lockfile.lock(onDisk('t.md'), { realpath: false })).rejects.toMatchObject({
      code: 'ELOCKED',
    });
    await ours();
    const again = await lockfile.lock(onDisk('t.md'), { realpath: false });
    await again();
  });
}
