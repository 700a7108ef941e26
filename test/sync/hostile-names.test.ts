// A far side that lies: its directory listing returns names with `..`, `/` or odd bytes (a hostile
// or broken SFTP server can). The scan must never build a path outside the root from them.

import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/endpoint/endpoint.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import { scanSide } from '../../src/sync/scan.js';

describe('hostile names from the far side', () => {
  it('are never read, never become tasks, and are reported', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mailroom-hostile-'));
    await mkdir(join(root, 'agents/research/inbox'), { recursive: true });
    await writeFile(join(root, 'secret.md'), 'outside the agent folders\n');
    const real = localEndpoint(root);
    const reads: string[] = [];
    const lying: Endpoint = {
      ...real,
      label: 'lying',
      list: async (dir) => {
        const entries = await real.list(dir);
        if (dir !== 'agents/research/inbox') return entries;
        const fake = (name: string) => ({ name, kind: 'file' as const, size: 10, mtimeMs: 0 });
        return [
          ...entries,
          fake('../../secret.md'),
          fake('../x.md'),
          fake('a/b.md'),
          fake('..'),
          fake('/etc/passwd'),
        ];
      },
      readFile: async (rel) => {
        reads.push(rel);
        return real.readFile(rel);
      },
    };
    const scan = await scanSide(lying, ['research'], {}, { clockMs: Date.now() });
    expect(scan.tasks.size).toBe(0);
    expect([...scan.files.keys()]).toEqual([]);
    // Anything read went through the endpoint's path check, which refuses `..` and absolute paths.
    for (const rel of reads) expect(rel.split('/')).not.toContain('..');
    expect(scan.problems.length).toBeGreaterThanOrEqual(4);
  });
});

describe('the far command line', () => {
  it('quotes the root for the far shell, leaving ~ to its $HOME', async () => {
    const { shellPath } = await import('../../daemon/sync-loop.js');
    expect(shellPath("/srv/a b/it's")).toBe("'/srv/a b/it'\\''s'");
    expect(shellPath('~/mailroom')).toBe(`"$HOME"/'mailroom'`);
    expect(shellPath('/x;rm -rf ~')).toBe("'/x;rm -rf ~'");
  });
});
