import { describe, expect, it } from 'vitest';
import { localEndpoint } from '../../src/endpoint/local.js';
import { endpointContract } from '../support/endpoint-contract.js';

describe('local endpoint: the Endpoint contract', () => {
  endpointContract(async (root) => localEndpoint(root));
});

describe('local endpoint', () => {
  it('needs an absolute root', () => {
    expect(() => localEndpoint('relative/path')).toThrow(/absolute/);
  });
});

// Folders seen to be real are remembered for a pass (docs/performance.md, WAN); these check that the
// memo never lets a link through where the old per-path check refused it at a pass boundary, after an
// error, or at the file itself.
describe('local endpoint: per-pass folder memo', () => {
  const tree = async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const base = await mkdtemp(join(tmpdir(), 'mr-memo-'));
    const root = join(base, 'root');
    const outside = join(base, 'outside');
    const fs = await import('node:fs/promises');
    await fs.mkdir(root);
    await fs.mkdir(outside);
    const swapForLink = async (rel: string) => {
      await fs.rm(join(root, rel), { recursive: true });
      await fs.symlink(outside, join(root, rel));
    };
    return { root, outside, fs, join, swapForLink };
  };

  it('folder memo: a folder swapped for a link is refused after newPass', async () => {
    const { root, outside, fs, swapForLink } = await tree();
    const e = localEndpoint(root);
    await e.writeFileAtomic('a/b/f.md', Buffer.from('x'));
    await swapForLink('a/b');
    e.newPass?.();
    await expect(e.writeFileAtomic('a/b/g.md', Buffer.from('y'))).rejects.toThrow(/a\/b/);
    await expect(e.readFile('a/b/g.md')).rejects.toThrow(/a\/b/);
    expect(await fs.readdir(outside)).toEqual([]);
  });

  it('folder memo: an error forgets every folder seen in the pass', async () => {
    const { root, outside, fs, swapForLink } = await tree();
    const e = localEndpoint(root);
    await e.writeFileAtomic('a/b/f.md', Buffer.from('x'));
    await swapForLink('a/b');
    // Same pass: the memo says a/b is real, the open through the link finds nothing and fails...
    await expect(e.readFile('a/b/missing.md')).rejects.toThrow(/does not exist/);
    // ...and that error made the endpoint look again.
    await expect(e.writeFileAtomic('a/b/g.md', Buffer.from('y'))).rejects.toThrow(/a\/b/);
    expect(await fs.readdir(outside)).toEqual([]);
  });

  it('folder memo: the file itself is still opened without following a link', async () => {
    const { root, outside, fs, join } = await tree();
    const e = localEndpoint(root);
    await e.writeFileAtomic('a/b/f.md', Buffer.from('x'));
    await fs.writeFile(join(outside, 'secret'), 'secret');
    await fs.rm(join(root, 'a/b/f.md'));
    await fs.symlink(join(outside, 'secret'), join(root, 'a/b/f.md'));
    await expect(e.readFile('a/b/f.md')).rejects.toThrow(/link/);
  });
});
