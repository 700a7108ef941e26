// Installs, removes and inspects the daemon's service (src/service/definition.ts) through the platform's
// service manager. Every call to systemctl, loginctl, journalctl, launchctl or tail goes through the
// injected Runner, so tests run all of this against a fake HOME and never touch the real user's setup.

import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoCode, notFound, refused } from '../errors.js';
import { writeFileAtomic } from '../store/atomic.js';
import {
  launchdLabel,
  launchdPlist,
  type ServicePlatform,
  type ServiceSpec,
  serviceFiles,
  systemdUnit,
} from './definition.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without a shell; `inherit` streams its output to ours (logs --follow). */
export type Runner = (cmd: string, args: string[], opts?: { inherit?: boolean }) => Promise<RunResult>;

export interface ServiceContext {
  platform: ServicePlatform;
  home: string;
  /** The user's numeric id (launchctl's gui/<uid> domain) and name (loginctl). */
  uid: number;
  user: string;
  run: Runner;
  /** Where to say what happened (a line per step, and hints). */
  say: (line: string) => void;
}

export interface InstallResult {
  name: string;
  file: string;
  log?: string;
  /** Linux: lingering is off, so the service stops at logout (hint printed). */
  lingerOff?: boolean;
}

const firstLine = (r: RunResult): string => (r.stderr || r.stdout).trim().split('\n')[0] ?? '';
const failed = (r: RunResult, what: string) => refused(`${what} failed (exit ${r.code}): ${firstLine(r)}`);

export async function installService(ctx: ServiceContext, spec: ServiceSpec): Promise<InstallResult> {
  const files = serviceFiles(ctx.platform, ctx.home, spec.root);
  await mkdir(dirname(files.file), { recursive: true });
  if (ctx.platform === 'linux') {
    await writeFileAtomic(files.file, systemdUnit(spec));
    const unit = `${files.name}.service`;
    for (const args of [['daemon-reload'], ['enable', unit], ['restart', unit]]) {
      const r = await ctx.run('systemctl', ['--user', ...args]);
      if (r.code !== 0) {
        throw refused(
          `wrote ${files.file}, but \`systemctl --user ${args.join(' ')}\` failed: ${firstLine(r)}`,
          `without a login session there is no user service manager: run \`loginctl enable-linger ${ctx.user}\`, then \`mailroom service install\` again`,
        );
      }
    }
    const linger = await ctx.run('loginctl', ['show-user', ctx.user, '--property=Linger', '--value']);
    const lingerOff = linger.code !== 0 || linger.stdout.trim() !== 'yes';
    if (lingerOff)
      ctx.say(
        `note: the service stops when you log out; to keep it running: loginctl enable-linger ${ctx.user}`,
      );
    return { name: files.name, file: files.file, lingerOff };
  }
  const label = launchdLabel(files.name);
  const log = files.log as string;
  await mkdir(dirname(log), { recursive: true });
  await writeFileAtomic(files.file, launchdPlist(spec, label, log));
  // bootout first: a reinstall replaces the loaded job and starts the new one (RunAtLoad).
  await ctx.run('launchctl', ['bootout', `gui/${ctx.uid}/${label}`]);
  const r = await ctx.run('launchctl', ['bootstrap', `gui/${ctx.uid}`, files.file]);
  if (r.code !== 0) throw failed(r, `launchctl bootstrap gui/${ctx.uid} ${files.file}`);
  return { name: files.name, file: files.file, log };
}

/** Stops the service and removes its file; false when there was none. */
export async function uninstallService(ctx: ServiceContext, root: string): Promise<boolean> {
  const files = serviceFiles(ctx.platform, ctx.home, root);
  const present = await exists(files.file);
  if (ctx.platform === 'linux') {
    if (present) await ctx.run('systemctl', ['--user', 'disable', '--now', `${files.name}.service`]);
    await rm(files.file, { force: true });
    if (present) await ctx.run('systemctl', ['--user', 'daemon-reload']);
  } else {
    await ctx.run('launchctl', ['bootout', `gui/${ctx.uid}/${launchdLabel(files.name)}`]);
    await rm(files.file, { force: true });
  }
  return present;
}

export interface ServiceStatus {
  name: string;
  file: string;
  installed: boolean;
  /** The service manager's own words (systemctl status / launchctl print), trimmed. */
  manager: string;
}

export async function serviceStatus(ctx: ServiceContext, root: string): Promise<ServiceStatus> {
  const files = serviceFiles(ctx.platform, ctx.home, root);
  const installed = await exists(files.file);
  if (!installed) return { name: files.name, file: files.file, installed, manager: '' };
  const r =
    ctx.platform === 'linux'
      ? await ctx.run('systemctl', ['--user', 'status', '--no-pager', '--lines=0', `${files.name}.service`])
      : await ctx.run('launchctl', ['print', `gui/${ctx.uid}/${launchdLabel(files.name)}`]);
  return { name: files.name, file: files.file, installed, manager: (r.stdout || r.stderr).trim() };
}

/** The daemon's recent output (journal on Linux, the log file on macOS), optionally followed. */
export async function serviceLogs(
  ctx: ServiceContext,
  root: string,
  opts: { lines: number; follow: boolean },
): Promise<number> {
  const files = serviceFiles(ctx.platform, ctx.home, root);
  if (!(await exists(files.file)))
    throw notFound(`no service for ${root} (no ${files.file})`, 'install it with `mailroom service install`');
  const n = String(opts.lines);
  const follow = opts.follow ? ['-f'] : [];
  const r =
    ctx.platform === 'linux'
      ? await ctx.run(
          'journalctl',
          ['--user', '-u', `${files.name}.service`, '-n', n, '--no-pager', ...follow],
          {
            inherit: true,
          },
        )
      : await ctx.run('tail', ['-n', n, ...follow, files.log as string], { inherit: true });
  return r.code;
}

async function exists(path: string): Promise<boolean> {
  try {
    await readFile(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}
