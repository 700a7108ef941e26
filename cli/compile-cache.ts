// The V8 code cache of the installed `mailroom` command (launch.ts), so that a quick verb does not
// compile ~1 MB of JavaScript on every run. Node 20 has no `module.enableCompileCache()` (Node 22
// does); this is the same idea by hand (as v8-compile-cache does): the bundle is compiled as one
// `vm.Script` with the cached data of an earlier run, and a run that had no usable cache writes one
// at its exit (it then holds every function that run compiled).
//
// The cache lives in the user's own cache folder (never next to the package, which a global install
// makes root's), one file per bundle build, Node version and verb. It is only a speed-up: a file that is
// missing, unreadable, not ours, writable by others, or rejected by V8 is ignored (V8 checks its
// version, flags and the source), and a write that fails is dropped. MAILROOM_COMPILE_CACHE=0 turns
// it off. Only Node's own modules: the launcher bundles this file, and it runs before anything else.

import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Where this user's caches go: $XDG_CACHE_HOME, ~/Library/Caches on macOS, else ~/.cache. */
export function cacheFolder(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.XDG_CACHE_HOME?.startsWith('/')) return join(env.XDG_CACHE_HOME, 'agent-mailroom');
  const home = env.HOME?.startsWith('/') ? env.HOME : homedir();
  const base = platform === 'darwin' ? join(home, 'Library', 'Caches') : join(home, '.cache');
  return join(base, 'agent-mailroom');
}

/**
 * The cache file for this bundle build (its size and mtime), this Node and CPU, and this verb: a code
 * cache holds the functions the run that wrote it compiled, so each verb keeps the one its own first
 * run wrote (`mailroom --version` first would otherwise leave `ls` a cache without its code).
 */
export function cacheFileFor(
  folder: string,
  bundle: { size: number; mtimeMs: number },
  verb: string | undefined,
): string {
  const which = verb && /^[a-z]{1,12}$/.test(verb) ? verb : 'other';
  return join(folder, `${buildPrefix(bundle)}${process.version}-${process.arch}-${which}.v8cache`);
}

const buildPrefix = (bundle: { size: number; mtimeMs: number }) =>
  `mailroom-${bundle.size}-${Math.trunc(bundle.mtimeMs)}-`;

/** How long a cache file of another build is kept: two installs used side by side keep theirs. */
const OTHER_BUILDS_KEPT_MS = 7 * 24 * 3600 * 1000;
/** How many other builds keep their files at most (each build has up to one file per verb, ~1 MB). */
const OTHER_BUILDS_KEPT = 2;

/**
 * Cache files of other builds (an upgrade leaves them behind), removed when a new one is written:
 * those not written for a week, and all but the two most recently written other builds. Not all at
 * once: a global install and a checkout used in turn would otherwise remove each other's caches on
 * every run. The count bounds a developer's folder, where every build is another build (a day of
 * rebuilding left 122 of them, 890 MB).
 */
export function pruneOtherBuilds(
  folder: string,
  bundle: { size: number; mtimeMs: number },
  nowMs = Date.now(),
): void {
  try {
    const keep = buildPrefix(bundle);
    const builds = new Map<string, { newest: number; paths: string[] }>();
    for (const name of readdirSync(folder)) {
      const build = /^(mailroom-\d+-\d+-)[\w.-]*\.v8cache$/.exec(name)?.[1];
      if (build === undefined || build === keep) continue;
      const path = join(folder, name);
      const b = builds.get(build) ?? { newest: 0, paths: [] };
      b.newest = Math.max(b.newest, lstatSync(path).mtimeMs);
      b.paths.push(path);
      builds.set(build, b);
    }
    const newestFirst = [...builds.values()].sort((a, b) => b.newest - a.newest);
    newestFirst.forEach((b, i) => {
      if (i >= OTHER_BUILDS_KEPT || nowMs - b.newest > OTHER_BUILDS_KEPT_MS)
        for (const path of b.paths) rmSync(path, { force: true });
    });
  } catch {
    // Only disk space.
  }
}

/** The cached data, if the file is ours and only we can write it; else undefined. */
export function readCache(path: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    // O_NOFOLLOW: a link planted in the cache folder is never followed.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    const ours = process.getuid === undefined || st.uid === process.getuid();
    if (!st.isFile() || !ours || (st.mode & 0o022) !== 0 || st.size > 64 * 1024 * 1024) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Temp file and rename (a reader sees the old file or the new one, never half of one); best effort. */
export function writeCache(path: string, data: Buffer): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(temp, data, { mode: 0o600 });
    renameSync(temp, path);
  } catch {
    // A cache that cannot be written only costs the next run its compile.
    rmSync(temp, { force: true });
  }
}
