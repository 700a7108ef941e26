// The one reader of files mailroom did not write (src/store/read-file.ts): every size reads back whole
// in one read where it can, a file at its limit is read and one byte over is refused by name, and
// links and fifos are never read.

import { execFileSync } from 'node:child_process';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotAFileError, readRegularFileSync, TooBigError } from '../../src/store/read-file.js';
import { tempDir } from '../support/cli.js';

describe('readRegularFile', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterAll(async () => cleanup());

  it.each([0, 1, 2_000, 4_095, 4_096, 65_536, 65_537, 300_000])('reads %i bytes back whole', async (n) => {
    const path = join(dir, `f${n}`);
    const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + n) % 251));
    await writeFile(path, bytes);
    const got = readRegularFileSync(path, { maxBytes: 1_000_000 });
    expect(got.length).toBe(n);
    expect(got.equals(bytes)).toBe(true);
  });

  it('a file of exactly the limit is read; one byte over is refused with the file and the key', async () => {
    const at = join(dir, 'at-limit');
    await writeFile(at, Buffer.alloc(1000, 'a'));
    expect(readRegularFileSync(at, { maxBytes: 1000 }).length).toBe(1000);
    const over = join(dir, 'over-limit');
    await writeFile(over, Buffer.alloc(1001, 'a'));
    let err: unknown;
    try {
      readRegularFileSync(over, { maxBytes: 1000, limitKey: 'limits.task_file' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TooBigError);
    expect((err as TooBigError).message).toContain(over);
    expect((err as TooBigError).hint).toContain('limits.task_file');
  });

  it('a symbolic link and a fifo are refused, not read', async () => {
    await writeFile(join(dir, 'target'), 'secret');
    await symlink(join(dir, 'target'), join(dir, 'link'));
    expect(() => readRegularFileSync(join(dir, 'link'), { maxBytes: 100 })).toThrow(NotAFileError);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    expect(() => readRegularFileSync(join(dir, 'fifo'), { maxBytes: 100 })).toThrow(NotAFileError);
  });
});
