// The far agent's own bundle (cli/lean-serve.ts, cli/serve-main.ts): the launcher runs dist/bin/serve.cjs
// for exactly `serve --root DIR`, the command line a hub sends over SSH, and the whole CLI for every
// other. Which bundle ran shows in the code cache file it wrote: named for that bundle's size.
// (test/sync/agent.test.ts runs real syncs through it over a real sshd.)

import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leanServeRoot } from '../../cli/lean-serve.js';
import { serveCommand } from '../../src/remote/probe.js';
import { BIN, newMailroom, runCli, tempDir } from '../support/cli.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir('mailroom-lean-');
});
afterAll(async () => tmp.cleanup());

describe('which command lines run the far agent alone', () => {
  it('exactly `serve --root DIR`, as the hub sends it', () => {
    expect(leanServeRoot(['serve', '--root', '/srv/mailroom'])).toBe('/srv/mailroom');
    // The hub's far command line, split as a shell would (a root without quotes or spaces).
    const [, ...args] = serveCommand('mailroom', '/srv/mailroom').replaceAll("'", '').split(' ');
    expect(leanServeRoot(args)).toBe('/srv/mailroom');
    for (const other of [
      ['serve'],
      ['serve', '--root=/srv'],
      ['serve', '--root', '/srv', '--debug'],
      ['serve', '--help'],
      ['serve', '--root', ''],
      ['sync', '--root', '/srv'],
      ['--root', '/srv', 'serve'],
    ])
      expect(leanServeRoot(other), other.join(' ')).toBeUndefined();
  });

  it('the installed command runs serve.cjs for it, and the whole CLI for `serve --root=DIR`', async () => {
    const sizeOf = (bundle: string) => statSync(join(dirname(BIN), bundle)).size;
    expect(sizeOf('serve.cjs')).toBeLessThan(sizeOf('mailroom.cjs') / 2);
    const m = await newMailroom([]);
    try {
      const ran = async (args: string[], cache: string) => {
        const r = await runCli(args, { env: { XDG_CACHE_HOME: join(tmp.dir, cache) } });
        expect(r.code, r.stderr).toBe(0); // stdin at its end: the agent ends at once, and well
        return readdirSync(join(tmp.dir, cache, 'agent-mailroom'));
      };
      expect(await ran(['serve', '--root', m.root], 'lean')).toEqual([
        expect.stringMatching(new RegExp(`^mailroom-${sizeOf('serve.cjs')}-.*-serve\\.v8cache$`)),
      ]);
      expect(await ran(['serve', `--root=${m.root}`], 'whole')).toEqual([
        expect.stringMatching(new RegExp(`^mailroom-${sizeOf('mailroom.cjs')}-.*-serve\\.v8cache$`)),
      ]);
    } finally {
      await m.cleanup();
    }
  });
});
