// The installed command's code cache (cli/compile-cache.ts, cli/launch.ts): where it lives, that it is
// only ever a speed-up (a missing, foreign, linked or corrupt cache file never changes what a command
// does), and that a run writes one and a later run uses it.

import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cacheFileFor,
  cacheFolder,
  pruneOtherBuilds,
  readCache,
  writeCache,
} from '../../cli/compile-cache.js';
import { newMailroom, runCli, tempDir } from '../support/cli.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir('mailroom-ccache-');
});
afterAll(async () => tmp.cleanup());

const BUILD = { size: 1000, mtimeMs: 1234.5 };

describe('where the cache lives', () => {
  it('is $XDG_CACHE_HOME/agent-mailroom, else ~/Library/Caches on macOS, else ~/.cache', () => {
    expect(cacheFolder({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' }, 'linux')).toBe(
      '/x/cache/agent-mailroom',
    );
    expect(cacheFolder({ HOME: '/home/u' }, 'linux')).toBe('/home/u/.cache/agent-mailroom');
    expect(cacheFolder({ HOME: '/Users/u' }, 'darwin')).toBe('/Users/u/Library/Caches/agent-mailroom');
    // A relative XDG_CACHE_HOME is ignored, as the XDG spec says.
    expect(cacheFolder({ XDG_CACHE_HOME: 'rel', HOME: '/home/u' }, 'linux')).toBe(
      '/home/u/.cache/agent-mailroom',
    );
  });

  it('has one file per build, Node, CPU and verb; a verb that is not a plain word is "other"', () => {
    const ls = cacheFileFor('/c', BUILD, 'ls');
    expect(ls).toBe(`/c/mailroom-1000-1234-${process.version}-${process.arch}-ls.v8cache`);
    expect(cacheFileFor('/c', BUILD, '../../etc/x')).toBe(ls.replace('-ls.', '-other.'));
    expect(cacheFileFor('/c', BUILD, '--root')).toBe(ls.replace('-ls.', '-other.'));
    expect(cacheFileFor('/c', BUILD, undefined)).toBe(ls.replace('-ls.', '-other.'));
    expect(cacheFileFor('/c', { ...BUILD, size: 1001 }, 'ls')).not.toBe(ls);
  });
});

describe('reading and writing a cache file', () => {
  it('writes (temp file and rename, 0600) and reads back what it wrote', () => {
    const path = join(tmp.dir, 'rw', 'a.v8cache');
    writeCache(path, Buffer.from('cached'));
    expect(readCache(path)?.toString()).toBe('cached');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(tmp.dir, 'rw'))).toEqual(['a.v8cache']);
  });

  it('ignores a file others can write, a symbolic link and a missing file', () => {
    const dir = join(tmp.dir, 'refused');
    mkdirSync(dir);
    const loose = join(dir, 'loose.v8cache');
    writeFileSync(loose, 'x');
    chmodSync(loose, 0o622);
    expect(readCache(loose)).toBeUndefined();
    const real = join(dir, 'real.v8cache');
    writeFileSync(real, 'x', { mode: 0o600 });
    expect(readCache(real)?.toString()).toBe('x');
    symlinkSync(real, join(dir, 'link.v8cache'));
    expect(readCache(join(dir, 'link.v8cache'))).toBeUndefined();
    expect(readCache(join(dir, 'missing.v8cache'))).toBeUndefined();
  });

  it('prunes the files of other builds not written for a week; keeps this build, recent ones and other files', () => {
    const dir = join(tmp.dir, 'prune');
    mkdirSync(dir);
    const mine = cacheFileFor(dir, BUILD, 'ls');
    const old = cacheFileFor(dir, { size: 999, mtimeMs: 1 }, 'ls');
    const recent = cacheFileFor(dir, { size: 998, mtimeMs: 1 }, 'ls');
    for (const p of [mine, old, recent, join(dir, 'notes.txt')]) writeFileSync(p, 'x');
    const eightDaysAgo = (Date.now() - 8 * 24 * 3600 * 1000) / 1000;
    for (const p of [mine, old, join(dir, 'notes.txt')]) utimesSync(p, eightDaysAgo, eightDaysAgo);
    pruneOtherBuilds(dir, BUILD);
    const left = readdirSync(dir).sort();
    expect(left).toEqual([mine, recent, join(dir, 'notes.txt')].map((p) => p.slice(dir.length + 1)).sort());
  });

  it('keeps the files of the two most recently written other builds only, however recent the rest', () => {
    const dir = join(tmp.dir, 'prune-count');
    mkdirSync(dir);
    const mine = cacheFileFor(dir, BUILD, 'ack');
    writeFileSync(mine, 'x');
    const others = [1, 2, 3, 4].map((n) => [
      cacheFileFor(dir, { size: 900 + n, mtimeMs: n }, 'ls'),
      cacheFileFor(dir, { size: 900 + n, mtimeMs: n }, 'ack'),
    ]);
    // Build n was last written n minutes ago (its two files a second apart).
    for (const [i, files] of others.entries())
      for (const [k, p] of files.entries()) {
        writeFileSync(p, 'x');
        const at = (Date.now() - (i + 1) * 60_000 - k * 1000) / 1000;
        utimesSync(p, at, at);
      }
    pruneOtherBuilds(dir, BUILD);
    const left = readdirSync(dir).sort();
    expect(left).toEqual([mine, ...others[0]!, ...others[1]!].map((p) => p.slice(dir.length + 1)).sort());
  });
});

describe('the installed command with its cache', () => {
  const env = (cache: string) => ({ XDG_CACHE_HOME: cache });

  it('writes a cache on its first run, uses it on the next (not rewritten), and works the same', async () => {
    const cache = join(tmp.dir, 'e2e');
    const first = await runCli(['--version'], { env: env(cache) });
    expect(first).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    const [file] = readdirSync(join(cache, 'agent-mailroom'));
    expect(file).toMatch(/-other\.v8cache$/);
    const path = join(cache, 'agent-mailroom', file!);
    const written = statSync(path).mtimeMs;
    const second = await runCli(['--version'], { env: env(cache) });
    expect(second).toEqual(first);
    expect(statSync(path).mtimeMs).toBe(written);
  });

  it('a long-running verb, which sets V8 flags as it runs, writes a cache its next start takes', async () => {
    // `serve` tunes V8's memory reducer (cli/long-running.ts). A code cache carries a hash of V8's
    // flags: written with them set, it was rejected at every start and written again at every exit.
    const cache = join(tmp.dir, 'serve');
    const m = await newMailroom([]);
    try {
      const first = await runCli(['serve', '--root', m.root], { env: env(cache) });
      expect(first.code, first.stderr).toBe(0);
      const [file] = readdirSync(join(cache, 'agent-mailroom'));
      expect(file).toMatch(/-serve\.v8cache$/);
      const path = join(cache, 'agent-mailroom', file!);
      const written = statSync(path);
      const second = await runCli(['serve', '--root', m.root], { env: env(cache) });
      expect(second.code, second.stderr).toBe(0);
      const after = statSync(path);
      expect([after.ino, after.mtimeMs], 'rewritten: V8 rejected the cache').toEqual([
        written.ino,
        written.mtimeMs,
      ]);
    } finally {
      await m.cleanup();
    }
  });

  it('runs correctly with a corrupt cache file, and replaces it', async () => {
    const cache = join(tmp.dir, 'corrupt');
    await runCli(['--version'], { env: env(cache) });
    const [file] = readdirSync(join(cache, 'agent-mailroom'));
    const path = join(cache, 'agent-mailroom', file!);
    writeFileSync(path, Buffer.alloc(4096, 7), { mode: 0o600 });
    const run = await runCli(['--version'], { env: env(cache) });
    expect(run).toMatchObject({ code: 0, stdout: '0.1.0\n', stderr: '' });
    expect(statSync(path).size).toBeGreaterThan(10_000); // V8 rejected the garbage; a real cache replaced it
  });

  it('a help or failed run writes no cache for its verb; the first run that does the work writes it', async () => {
    const cache = join(tmp.dir, 'verb');
    const folder = join(cache, 'agent-mailroom');
    const ackFile = () =>
      existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('-ack.v8cache')) : [];
    const m = await newMailroom([]);
    try {
      expect((await runCli(['ack', '--help'], { env: env(cache) })).code).toBe(0);
      expect(ackFile()).toEqual([]);
      expect((await runCli(['ack', 'no-such-task', '--root', m.root], { env: env(cache) })).code).toBe(2);
      expect(ackFile()).toEqual([]);
      const id = (await m.mr(['send', 'human', 'cached'])).stdout.trim();
      const ack = await runCli(['ack', id, '--root', m.root, '--as', 'human'], { env: env(cache) });
      expect(ack.code, ack.stderr).toBe(0);
      expect(ackFile()).toHaveLength(1);
    } finally {
      await m.cleanup();
    }
  });

  it('MAILROOM_COMPILE_CACHE=0 writes nothing', async () => {
    const cache = join(tmp.dir, 'off');
    const run = await runCli(['--version'], { env: { ...env(cache), MAILROOM_COMPILE_CACHE: '0' } });
    expect(run.code).toBe(0);
    expect(() => readdirSync(join(cache, 'agent-mailroom'))).toThrow(/ENOENT/);
  });
});
