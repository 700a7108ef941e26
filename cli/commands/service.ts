// Handlers for `mailroom service install|uninstall|status|logs`: the daemon as a systemd user service
// (Linux) or a LaunchAgent (macOS) for one mailroom root. The work is in src/service/; this file wires
// the real user, HOME and a runner that spawns the service manager's programs.

import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { usageError } from '../../src/errors.js';
import { findRoot } from '../../src/root.js';
import type { ServicePlatform } from '../../src/service/definition.js';
import {
  installService,
  type Runner,
  type ServiceContext,
  serviceLogs,
  serviceStatus,
  uninstallService,
} from '../../src/service/manage.js';
import type { CommonOptions } from '../context.js';
import { printJson, println, warn } from '../output.js';

const spawnRunner: Runner = (cmd, args, opts = {}) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: opts.inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => resolve({ code: 127, stdout, stderr: `${cmd}: ${err.message}` }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });

function context(): ServiceContext {
  const platform = process.platform;
  if (platform !== 'linux' && platform !== 'darwin')
    throw usageError(
      `mailroom service supports Linux (systemd) and macOS (launchd), not ${platform}`,
      'run `mailroom daemon` under your own service manager',
    );
  const user = userInfo();
  return {
    platform: platform as ServicePlatform,
    home: homedir(),
    uid: user.uid,
    user: user.username,
    run: spawnRunner,
    say: warn,
  };
}

export async function install(opts: CommonOptions): Promise<void> {
  const ctx = context();
  const root = findRoot(opts.root);
  const r = await installService(ctx, {
    root,
    node: process.execPath,
    mailroom: realpathSync(process.argv[1] ?? ''),
    path: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  });
  if (opts.json) return printJson({ installed: true, ...r });
  println(`installed and started ${r.name}: ${r.file}`);
  println(
    ctx.platform === 'linux'
      ? `logs: mailroom service logs --root ${root}   (or journalctl --user -u ${r.name})`
      : `logs: ${r.log}`,
  );
}

export async function uninstall(opts: CommonOptions): Promise<void> {
  const root = findRoot(opts.root);
  const removed = await uninstallService(context(), root);
  if (opts.json) return printJson({ removed });
  println(removed ? `stopped and removed the service for ${root}` : `no service was installed for ${root}`);
}

export async function status(opts: CommonOptions): Promise<number> {
  const root = findRoot(opts.root);
  const s = await serviceStatus(context(), root);
  if (opts.json) printJson({ ...s });
  else if (!s.installed) println(`no service for ${root} (install it with \`mailroom service install\`)`);
  else println(`${s.name}: ${s.file}\n${s.manager}`);
  return s.installed ? 0 : 2;
}

export async function logs(opts: CommonOptions & { lines?: string; follow?: boolean }): Promise<number> {
  const lines = Number(opts.lines ?? '100');
  if (!Number.isInteger(lines) || lines < 0)
    throw usageError(`invalid -n ${JSON.stringify(opts.lines)}`, 'give a whole number of lines');
  return serviceLogs(context(), findRoot(opts.root), { lines, follow: opts.follow === true });
}
