// `mailroom service`: the unit and the plist written for a fake HOME validate (systemd-analyze verify
// where present; the plist read by a strict property-list parser, and by python's plistlib where
// present), and every service-manager call goes to a recording runner: the real user's systemd or
// launchd is never touched.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailroomError } from '../../src/errors.js';
import { serviceFiles, serviceName } from '../../src/service/definition.js';
import {
  installService,
  type RunResult,
  type ServiceContext,
  serviceLogs,
  serviceStatus,
  uninstallService,
} from '../../src/service/manage.js';
import { BIN, runCli, tempDir } from '../support/cli.js';
import { parsePlist } from '../support/plist.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir('mailroom-service-');
});
afterAll(async () => tmp.cleanup());

function fakeContext(
  platform: 'linux' | 'darwin',
  home: string,
  answers: Record<string, Partial<RunResult>> = {},
) {
  const calls: string[] = [];
  const said: string[] = [];
  const ctx: ServiceContext = {
    platform,
    home,
    uid: 501,
    user: 'alice',
    say: (line) => said.push(line),
    run: async (cmd, args) => {
      const line = [cmd, ...args].join(' ');
      calls.push(line);
      const match = Object.entries(answers).find(([prefix]) => line.startsWith(prefix))?.[1] ?? {};
      return { code: 0, stdout: '', stderr: '', ...match };
    },
  };
  return { ctx, calls, said };
}

// A root with characters both formats must escape: a space, %, $, a quote, & and <.
const odd = () => join(tmp.dir, 'my "mail" room 100% $HOME & <co>');
const spec = (root: string) => ({
  root,
  node: process.execPath,
  mailroom: BIN,
  path: '/usr/local/bin:/usr/bin:/bin',
});

const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const hasPlistlib = spawnSync('python3', ['-c', 'import plistlib']).status === 0;

describe('mailroom service on Linux (systemd user unit)', () => {
  it('install writes a unit under ~/.config/systemd/user that verifies, enables and restarts it', async () => {
    const home = join(tmp.dir, 'home-linux');
    const root = odd();
    await mkdir(root, { recursive: true });
    const { ctx, calls, said } = fakeContext('linux', home, {
      'loginctl show-user': { stdout: 'no\n' },
    });
    const r = await installService(ctx, spec(root));
    const unitPath = join(home, '.config/systemd/user', `${serviceName(root)}.service`);
    expect(r.file).toBe(unitPath);
    const unit = await readFile(unitPath, 'utf8');
    expect(unit).toContain(`ExecStart="${process.execPath}" "${BIN}" "daemon" "--root" `);
    expect(unit).toContain('100%% $$HOME');
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^WantedBy=default\.target$/m);
    expect(calls).toEqual([
      'systemctl --user daemon-reload',
      `systemctl --user enable ${r.name}.service`,
      `systemctl --user restart ${r.name}.service`,
      'loginctl show-user alice --property=Linger --value',
    ]);
    expect(r.lingerOff).toBe(true);
    expect(said.join('\n')).toContain('loginctl enable-linger alice');
    if (hasSystemdAnalyze) {
      const v = spawnSync('systemd-analyze', ['verify', unitPath], { encoding: 'utf8' });
      expect(v.stderr).toBe('');
      expect(v.status).toBe(0);
    } else console.warn('systemd-analyze not installed: the unit was checked by its text only');
  });

  it('reinstall of the same root restarts the same unit; another root gets its own unit', async () => {
    const home = join(tmp.dir, 'home-linux-2');
    const a = join(tmp.dir, 'a', 'mailroom');
    const b = join(tmp.dir, 'b', 'mailroom');
    const { ctx, calls, said } = fakeContext('linux', home, { 'loginctl show-user': { stdout: 'yes\n' } });
    const first = await installService(ctx, spec(a));
    const again = await installService(ctx, spec(a));
    const other = await installService(ctx, spec(b));
    expect(again.file).toBe(first.file);
    expect(other.name).not.toBe(first.name);
    expect(calls.filter((c) => c === `systemctl --user restart ${first.name}.service`)).toHaveLength(2);
    expect(readdirSync(join(home, '.config/systemd/user')).sort()).toEqual(
      [`${first.name}.service`, `${other.name}.service`].sort(),
    );
    expect(said).toEqual([]); // lingering on: no hint
  });

  it('without a user session, install says to enable lingering (systemctl --user cannot connect)', async () => {
    const home = join(tmp.dir, 'home-linux-3');
    const { ctx } = fakeContext('linux', home, {
      'systemctl --user daemon-reload': { code: 1, stderr: 'Failed to connect to bus: No medium found' },
    });
    const err = await installService(ctx, spec(join(tmp.dir, 'r3'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailroomError);
    expect((err as MailroomError).message).toContain('Failed to connect to bus');
    expect((err as MailroomError).hint).toContain('loginctl enable-linger alice');
  });

  it('uninstall stops, disables and removes the unit; status and logs then say there is none', async () => {
    const home = join(tmp.dir, 'home-linux-4');
    const root = join(tmp.dir, 'r4');
    const { ctx, calls } = fakeContext('linux', home, {
      'systemctl --user status': { stdout: 'active (running)' },
    });
    const r = await installService(ctx, spec(root));
    expect((await serviceStatus(ctx, root)).manager).toBe('active (running)');
    expect(await serviceLogs(ctx, root, { lines: 5, follow: false })).toBe(0);
    expect(calls).toContain(`journalctl --user -u ${r.name}.service -n 5 --no-pager`);
    expect(await uninstallService(ctx, root)).toBe(true);
    expect(calls).toContain(`systemctl --user disable --now ${r.name}.service`);
    expect(existsSync(r.file)).toBe(false);
    expect((await serviceStatus(ctx, root)).installed).toBe(false);
    await expect(serviceLogs(ctx, root, { lines: 5, follow: false })).rejects.toThrow(/no service for/);
    expect(await uninstallService(ctx, root)).toBe(false);
  });
});

describe('mailroom service on macOS (LaunchAgent)', () => {
  it('install writes a plist that parses, with RunAtLoad, KeepAlive on failure, throttle and logs', async () => {
    const home = join(tmp.dir, 'home-mac');
    const root = odd();
    const { ctx, calls } = fakeContext('darwin', home);
    const r = await installService(ctx, spec(root));
    const label = `local.${serviceName(root)}`;
    expect(r.file).toBe(join(home, 'Library/LaunchAgents', `${label}.plist`));
    const text = await readFile(r.file, 'utf8');
    const plist = parsePlist(text);
    const log = join(home, 'Library/Logs/mailroom', `${serviceName(root)}.log`);
    expect(plist).toEqual({
      Label: label,
      ProgramArguments: [process.execPath, BIN, 'daemon', '--root', root],
      WorkingDirectory: root,
      EnvironmentVariables: { PATH: '/usr/local/bin:/usr/bin:/bin' },
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      ThrottleInterval: 10,
      ProcessType: 'Background',
      StandardOutPath: log,
      StandardErrorPath: log,
    });
    expect(existsSync(join(home, 'Library/Logs/mailroom'))).toBe(true);
    if (hasPlistlib) {
      const py = 'import plistlib,sys,json; print(json.dumps(plistlib.load(open(sys.argv[1],"rb"))))';
      expect(JSON.parse(execFileSync('python3', ['-c', py, r.file], { encoding: 'utf8' }))).toEqual(plist);
    }
    // bootout first, so a reinstall replaces the loaded job and starts the new one.
    expect(calls).toEqual([`launchctl bootout gui/501/${label}`, `launchctl bootstrap gui/501 ${r.file}`]);
  });

  it('uninstall boots the job out and removes the plist; logs tail the log file', async () => {
    const home = join(tmp.dir, 'home-mac-2');
    const root = join(tmp.dir, 'r-mac');
    const { ctx, calls } = fakeContext('darwin', home);
    const r = await installService(ctx, spec(root));
    await serviceLogs(ctx, root, { lines: 20, follow: true });
    expect(calls).toContain(`tail -n 20 -f ${serviceFiles('darwin', home, root).log}`);
    expect(await uninstallService(ctx, root)).toBe(true);
    expect(calls.at(-1)).toBe(`launchctl bootout gui/501/local.${r.name}`);
    expect(existsSync(r.file)).toBe(false);
  });
});

describe('the mailroom service command', () => {
  it('status for a root with no service exits 2 and names the fix (no service manager call)', async () => {
    const root = join(tmp.dir, 'cli-root');
    expect((await runCli(['init', root])).code).toBe(0);
    const r = await runCli(['service', 'status', '--root', root], {
      env: { HOME: join(tmp.dir, 'home-cli') },
    });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('mailroom service install');
  });
});
