// The README's command blocks, run in order as a reader would type them (quick start, the worked
// example, two machines over a private sshd), plus its configuration example loaded as mailroom.yaml.
// A broken block fails here, naming its README line. Marking: test/support/readme-blocks.ts.

import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { BIN, REPO, requireBuild, tempDir } from '../support/cli.js';
import { pollUntil } from '../support/poll.js';
import { type ReadmeBlock, readmeBlocks, scenarioScript } from '../support/readme-blocks.js';
import { describeWithSshd } from '../support/sshd.js';

const SCENARIOS = ['quick-start', 'worked-example', 'two-machines', 'configuration'];

let readme: ReadmeBlock[];
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  requireBuild();
  readme = readmeBlocks(await readFile(join(REPO, 'README.md'), 'utf8'));
  tmp = await tempDir('mailroom-readme-');
});
afterAll(async () => tmp.cleanup());

const blocksOf = (scenario: string) => readme.filter((b) => b.scenario === scenario);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A fresh HOME and a PATH with `mailroom` (and `npm` and `ssh` stand-ins), as on a reader's machine. */
async function machine(name: string, sshConfig?: string) {
  const dir = join(tmp.dir, name);
  const home = join(dir, 'home');
  const bin = join(dir, 'bin');
  const work = join(dir, 'work');
  for (const d of [home, bin, work, join(home, '.ssh')]) await mkdir(d, { recursive: true });
  const shim = async (cmd: string, body: string) =>
    writeFile(join(bin, cmd), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  await shim('mailroom', `exec '${process.execPath}' '${BIN}' "$@"`);
  // `npm install`/`npm test` have run already (this is the test suite); `npm start` runs the real script.
  await shim(
    'npm',
    [
      'case "$1" in',
      '  install|ci|link|test) echo "(npm $1: done before the README test)" ;;',
      `  start) exec sh -c "$('${process.execPath}' -p 'require("./package.json").scripts.start')" ;;`,
      '  *) echo "npm $1 is not expected in a README block" >&2; exit 1 ;;',
      'esac',
    ].join('\n'),
  );
  if (sshConfig !== undefined) {
    await writeFile(join(home, '.ssh/config'), sshConfig);
    // OpenSSH reads the passwd home, not $HOME: point it at this machine's files.
    await shim(
      'ssh',
      'exec /usr/bin/ssh -F "$HOME/.ssh/config" -o UserKnownHostsFile="$HOME/.ssh/known_hosts" -o BatchMode=yes "$@"',
    );
  }
  return { dir, home, bin, work };
}

/** Runs a scenario's script in its own process group, then ends whatever it left running (a daemon). */
async function runScenario(
  blocks: ReadmeBlock[],
  m: Awaited<ReturnType<typeof machine>>,
  opts: { cwd?: string; values?: Record<string, string>; prelude?: string } = {},
): Promise<Run> {
  const script = (opts.prelude ?? '') + scenarioScript(blocks, opts.values ?? {}, m.dir);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: m.home, PATH: `${m.bin}:${process.env.PATH}` };
  delete env.MAILROOM_ROOT;
  delete env.MAILROOM_AGENT;
  // stdin is not a pipe, as in a reader's terminal (a command may read piped input); the script's
  // own process group, so whatever it leaves running (a daemon) is ended below by that group's id.
  const child = spawn('bash', ['-c', script], {
    cwd: opts.cwd ?? m.work,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'exit', not 'close': a process left running in the background holds the output pipes open.
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const group = child.pid!;
  const alive = () => {
    try {
      process.kill(-group, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (alive()) process.kill(-group, 'SIGTERM');
  await pollUntil('the README scenario processes to end', () => !alive(), 30_000);
  return { code, stdout, stderr };
}

describe('README blocks', () => {
  it('every marked block belongs to a known scenario, and each scenario has blocks', () => {
    expect(readme.map((b) => b.scenario).filter((s) => !SCENARIOS.includes(s))).toEqual([]);
    for (const s of SCENARIOS) expect(blocksOf(s).length, s).toBeGreaterThan(0);
  });

  it('a broken block fails the run and names its README line', async () => {
    const fake = readmeBlocks(
      [
        '<!-- readme-test: t -->',
        '```sh',
        'mailroom --version',
        '```',
        'text',
        '<!-- readme-test: t -->',
        '```sh',
        'mailroom shwo 123',
        'echo never',
        '```',
      ].join('\n'),
    );
    const r = await runScenario(fake, await machine('broken'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('README block at line 7 failed');
    expect(r.stdout).not.toContain('never');
  });

  it('quick start: npm start runs a local mailroom, and the second terminal drives it', async () => {
    const m = await machine('quick-start');
    const checkout = join(m.dir, 'checkout'); // what a clone looks like after `npm install`
    await mkdir(checkout);
    await copyFile(join(REPO, 'package.json'), join(checkout, 'package.json'));
    for (const d of ['dist', 'inbox-template']) await symlink(join(REPO, d), join(checkout, d));
    const r = await runScenario(blocksOf('quick-start'), m, { cwd: checkout });
    expect(r.stderr).not.toMatch(/README block at line/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/dispatch/); // `mailroom status` printed its table
  });

  it('the worked example runs from init to done, fail and retry with a daemon', async () => {
    const m = await machine('worked-example');
    const r = await runScenario(blocksOf('worked-example'), m);
    expect(r.stderr).not.toMatch(/README block at line/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/task\.transition/); // `mailroom log -n 5`
  });

  it('the configuration example loads as mailroom.yaml', () => {
    const [block] = blocksOf('configuration');
    expect(block?.lang).toBe('yaml');
    const config = parseConfig(block!.text, 'README.md');
    expect(Object.keys(config.agents)).toEqual(['dispatch', 'human', 'research']);
  });
});

describeWithSshd('README blocks over SSH', (sshd) => {
  it('two machines: host add, agent add, sync, and the task is on the far side', async () => {
    const s = sshd();
    const m = await machine(
      'two-machines',
      [
        'Host vps',
        '  HostName 127.0.0.1',
        `  Port ${s.port}`,
        `  User ${s.user}`,
        `  IdentityFile ${s.clientKeyPath}`,
        '  IdentitiesOnly yes',
        '',
      ].join('\n'),
    );
    const far = join(s.dir, 'far-mailroom');
    const r = await runScenario(blocksOf('two-machines'), m, {
      values: { port: String(s.port), far },
      // "on the laptop (in your mailroom)": the reader has one already.
      prelude: 'mailroom init ~/mailroom >/dev/null && export MAILROOM_ROOT=~/mailroom\n',
    });
    expect(r.stderr).not.toMatch(/README block at line/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${far}/agents/research/inbox/\\S+\\.md`));
  });
});
