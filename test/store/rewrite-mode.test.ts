// Small promises of point 7 of the trust issue: a rewrite keeps the file's mode, and a long name gets
// a temp name that fits NAME_MAX.

import { chmod, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hiddenNameFitting } from '../../src/names.js';
import { tempPathFor, writeFileAtomic } from '../../src/store/atomic.js';
import { newMailroom, tempDir } from '../support/cli.js';

describe('rewrites', () => {
  let env: Awaited<ReturnType<typeof newMailroom>>;
  beforeAll(async () => {
    env = await newMailroom(['research']);
  });
  afterAll(async () => env.cleanup());

  it('a rewrite keeps the task file mode (0600 stays 0600)', async () => {
    const id = (await env.mr(['send', 'research', 'private'])).stdout.trim();
    const path = join(env.root, `agents/research/inbox/${id}.md`);
    await chmod(path, 0o600);
    expect((await env.mr(['ack', id])).code).toBe(0);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('a long name gets a temp name that fits NAME_MAX (255 bytes)', async () => {
    const tmp = await tempDir();
    try {
      const name = `${'x'.repeat(250)}.md`;
      expect(Buffer.byteLength(name)).toBe(253);
      await writeFileAtomic(join(tmp.dir, name), 'ok\n');
      await writeFileAtomic(join(tmp.dir, name), 'again\n');
      expect(await readdir(tmp.dir)).toEqual([name]);
      const temp = tempPathFor(join(tmp.dir, name));
      expect(Buffer.byteLength(temp.slice(tmp.dir.length + 1))).toBeLessThanOrEqual(255);
      // A cut never splits a character.
      const cut = hiddenNameFitting('é'.repeat(200), '.tmp-123456789012');
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(255);
      expect(cut).not.toContain('\ufffd');
      await writeFile(join(tmp.dir, cut), 'fits');
    } finally {
      await tmp.cleanup();
    }
  });
});
