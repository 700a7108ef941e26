// The published package (`agent-mailroom`): only the files that run, and a tarball that installs and
// runs from a global prefix (issue: the tarball shipped dist/test, dist/torture, dist/bench and the
// unbundled dist/src, and the npm name `mailroom` belongs to someone else).

import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, FrameReader, MAX_FRAME_BYTES } from '../../src/remote/frame.js';
import { MAILROOM_VERSION, PROTOCOL_VERSION } from '../../src/remote/protocol.js';
import { REPO, requireBuild, tempDir } from '../support/cli.js';

const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackEntry {
  name: string;
  filename: string;
  files: { path: string }[];
}

async function packDryRun(): Promise<PackEntry> {
  // --ignore-scripts: `npm test` has built dist/ already; prepare would build it again.
  const { stdout } = await run(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: REPO,
    maxBuffer: 16 * 1024 * 1024,
  });
  return (JSON.parse(stdout) as PackEntry[])[0] as PackEntry;
}

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  requireBuild();
  tmp = await tempDir('mailroom-pack-');
});
afterAll(async () => tmp.cleanup());

describe('the npm package', () => {
  it('is named agent-mailroom (the name mailroom is taken) and its bin is still mailroom', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('agent-mailroom');
    expect(pkg.bin).toEqual({ mailroom: 'dist/bin/mailroom.js' });
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(REPO, 'LICENSE'), 'utf8')).toMatch(/^MIT License[\s\S]*mailroom contributors/);
  });

  it('packs only what runs: the bundle, inbox-template, the board page, LICENSE, README and docs (no dist/test, dist/src)', async () => {
    const entry = await packDryRun();
    const paths = entry.files.map((f) => f.path).sort();
    const outside = paths.filter(
      (p) =>
        !/^dist\/bin\/(mailroom\.c?js|serve\.cjs|package\.json)$/.test(p) && // package.json: CommonJS there
        !p.startsWith('inbox-template/') &&
        !/^docs\/[\w-]+\.(md|png)$/.test(p) &&
        !/^board\/page\/[\w-]+\.(html|css|js)$/.test(p) && // the web board's static page
        !['LICENSE', 'README.md', 'package.json'].includes(p),
    );
    expect(outside).toEqual([]);
    for (const must of [
      'dist/bin/mailroom.js',
      'dist/bin/mailroom.cjs',
      'dist/bin/serve.cjs', // the far agent alone (cli/lean-serve.ts)
      'inbox-template/AGENT.md',
      'LICENSE',
      'README.md',
      'docs/spec.md',
      'board/page/index.html',
      'board/page/board.js',
    ])
      expect(paths).toContain(must);
    // Every docs/ page the README links to ships with it.
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    for (const [, link] of readme.matchAll(/\]\((docs\/[^)#]+)/g)) expect(paths).toContain(link);
  });

  it('installs from the tarball into a fresh global prefix and runs `mailroom init` there', async () => {
    const { stdout } = await run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp.dir], {
      cwd: REPO,
      maxBuffer: 16 * 1024 * 1024,
    });
    const tarball = join(tmp.dir, (JSON.parse(stdout) as PackEntry[])[0]?.filename ?? '');
    const prefix = join(tmp.dir, 'prefix');
    // --prefer-offline: the dependencies are in npm's cache after `npm ci`. --ignore-scripts: ssh2's
    // optional native addon (a C++ build) is not needed to run, and takes minutes on a busy machine.
    await run(
      npm,
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--prefer-offline',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        tarball,
      ],
      {
        cwd: tmp.dir,
        env: { ...process.env, npm_config_loglevel: 'error' },
      },
    );
    const bin = join(prefix, process.platform === 'win32' ? 'mailroom.cmd' : 'bin/mailroom');
    expect(existsSync(bin)).toBe(true);
    const installed = join(prefix, 'lib/node_modules/agent-mailroom');
    expect(existsSync(join(installed, 'dist/src'))).toBe(false);
    expect(existsSync(join(installed, 'dist/test'))).toBe(false);
    const root = join(tmp.dir, 'mr');
    const init = await run(bin, ['init', root], { cwd: tmp.dir });
    expect(init.stdout).toMatch(/mailroom/);
    // The template comes from the installed package, not from this checkout.
    expect(existsSync(join(root, 'agents/human/AGENT.md'))).toBe(true);
    const sent = await run(bin, ['send', 'human', 'from the tarball', '--body', 'hello', '--root', root]);
    const ls = await run(bin, ['ls', '--root', root]);
    expect(ls.stdout).toContain(sent.stdout.trim());
    // The far agent, as a hub starts it (its own bundle): it answers a hello with its own.
    const far = spawn(bin, ['serve', '--root', root], { stdio: ['pipe', 'pipe', 'pipe'] });
    const reader = new FrameReader(MAX_FRAME_BYTES);
    const hello = new Promise<unknown>((resolve, reject) => {
      far.stdout.on('data', (chunk: Buffer) => {
        const [first] = reader.push(chunk);
        if (first !== undefined) resolve(first);
      });
      far.on('exit', (code) => reject(new Error(`serve ended (${code}) before its hello`)));
    });
    far.stdin.write(encodeFrame({ t: 'hello', protocol: PROTOCOL_VERSION, version: MAILROOM_VERSION }));
    expect(await hello).toMatchObject({ t: 'hello', protocol: PROTOCOL_VERSION, version: MAILROOM_VERSION });
    const exited = new Promise<number | null>((resolve) => far.on('exit', resolve));
    far.stdin.end(); // the hub hangs up: the agent ends, and well
    expect(await exited).toBe(0);
  }, 600_000); // a hang guard: seconds alone, minutes on a loaded machine
});
