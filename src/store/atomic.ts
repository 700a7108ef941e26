// Atomic file writes: a dot-named temp file in the same folder, written, fsynced, then renamed over
// the target (or hard-linked, when the target must not exist yet). A reader sees the old whole file
// or the new whole file, never a mix, and a crash leaves at worst a stray temp file that is never a task.

import { link, lstat, mkdir, open, rename, rmdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoCode } from '../errors.js';
import { hiddenNameFitting } from '../names.js';
import { randomHex } from '../random-hex.js';

export function tempPathFor(path: string): string {
  const suffix = `.tmp-${process.pid}-${randomHex(4)}`;
  return join(dirname(path), hiddenNameFitting(basename(path), suffix));
}

/** The permission bits of the file a rewrite replaces (a task kept at 0600 stays 0600); else 0644. */
async function modeToKeep(path: string): Promise<number> {
  try {
    const st = await lstat(path);
    return st.isFile() ? st.mode & 0o7777 : 0o644;
  } catch {
    return 0o644;
  }
}

export const isTempName = (name: string): boolean => name.startsWith('.') && name.includes('.tmp');

/** Make a folder's entries (a new file, a rename, a new subfolder) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class TargetExistsError extends Error {
  constructor(readonly path: string) {
    super(`${path} already exists`);
  }
}

/**
 * Write `data` to `path` atomically. With `exclusive`, fail with TargetExistsError instead of
 * replacing an existing file (link() is atomic and refuses to overwrite).
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: { exclusive?: boolean; mkdir?: boolean } = {},
): Promise<void> {
  const dir = dirname(path);
  if (opts.mkdir) await mkdir(dir, { recursive: true });
  const tmp = tempPathFor(path);
  const mode = opts.exclusive ? 0o644 : await modeToKeep(path);
  const handle = await open(tmp, 'wx', mode);
  try {
    try {
      // The umask applied to open()'s mode; the kept mode is the file's own, so set it exactly.
      if (mode !== 0o644) await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (opts.exclusive) {
      try {
        await link(tmp, path);
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') throw new TargetExistsError(path);
        throw err;
      }
      await unlink(tmp);
    } else {
      await rename(tmp, path);
    }
    await fsyncDir(dir);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Move a file to a new folder without ever leaving it in zero places and without replacing anything
 * at the destination: link, then unlink. A crash in between leaves the same file in both places,
 * which is recognised by id and resolved; it never loses the file.
 */
export async function moveNoClobber(src: string, dst: string): Promise<void> {
  // The destination folder is the caller's to create (src/store/folders.ts), never through a link.
  try {
    await link(src, dst);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') throw new TargetExistsError(dst);
    throw err;
  }
  await fsyncDir(dirname(dst));
  await unlink(src);
  await fsyncDir(dirname(src));
}

/**
 * Move a folder (a task's `<id>.files/`) if it exists and the destination does not. The destination's
 * parent must exist (the caller creates it).
 */
export async function moveDirIfPresent(src: string, dst: string): Promise<boolean> {
  try {
    await mkdir(dst); // claims the name; rename over an empty folder is allowed, over a full one not
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    await rename(src, dst);
    return true;
  } catch (err) {
    await rmdir(dst).catch(() => {});
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}
