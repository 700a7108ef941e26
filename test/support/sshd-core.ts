// A private, throw-away OpenSSH sshd: its own config, host key, client key, authorized_keys and log
// in a temp folder, listening on 127.0.0.1 on a free port it picked. Invariants: never port 22, never
// a non-loopback address, never the system sshd or its config; stop() kills only the process it
// started, by pid. Free of vitest, so the benchmark (bench/) can start one too; the tests' wrapper is
// test/support/sshd.ts. Facts it relies on: docs/sshd.md.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SSHD_BIN = '/usr/sbin/sshd';
const SSH_KEYGEN = '/usr/bin/ssh-keygen';
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';
const HOST = '127.0.0.1';

export interface Sshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  /** Private key the server accepts (in its authorized_keys). */
  readonly clientKeyPath: string;
  /** Holds exactly `[127.0.0.1]:PORT ssh-ed25519 AAAA...` for this server. */
  readonly knownHostsPath: string;
  /** `ssh-ed25519 AAAA...` (type and base64, no comment). */
  readonly hostPublicKey: string;
  /** The temp folder holding keys, config and log; tests may make their far-side roots in it. */
  readonly dir: string;
  readonly logPath: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** 'internal' (default): internal-sftp, no shell start-up at all; 'server': the sftp-server binary. */
  readonly sftp?: 'internal' | 'server';
}

/** Is there an sshd (and ssh-keygen) to run? */
export function sshdAvailable(): { ok: true } | { ok: false; reason: string } {
  if (!existsSync(SSHD_BIN)) return { ok: false, reason: `${SSHD_BIN} is missing (install openssh-server)` };
  if (!existsSync(SSH_KEYGEN))
    return { ok: false, reason: `${SSH_KEYGEN} is missing (install openssh-client)` };
  return { ok: true };
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const available = sshdAvailable();
  if (!available.ok) throw new Error(`cannot start a test sshd: ${available.reason}`);
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-sshd-'));
  try {
    const hostKey = join(dir, 'host_ed25519');
    const clientKeyPath = join(dir, 'client_ed25519');
    await Promise.all([keygen(hostKey), keygen(clientKeyPath)]);
    const hostPublicKey = publicKeyOf(await readFile(`${hostKey}.pub`, 'utf8'));
    const authorizedKeys = join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, await readFile(`${clientKeyPath}.pub`, 'utf8'), { mode: 0o600 });

    const isRoot = process.getuid?.() === 0;
    // sshd's privilege separation needs this folder when it runs as root (SSHD.md).
    if (isRoot) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

    // A port can be taken between our probe and sshd's bind: retry with a fresh one.
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      try {
        const started = await launch(dir, port, hostKey, authorizedKeys, isRoot, opts);
        const knownHostsPath = join(dir, 'known_hosts');
        await writeFile(knownHostsPath, `[${HOST}]:${port} ${hostPublicKey}\n`);
        return {
          host: HOST,
          port,
          user: userInfo().username,
          clientKeyPath,
          knownHostsPath,
          hostPublicKey,
          dir,
          logPath: started.logPath,
          pid: started.child.pid!,
          stop: () => stopSshd(started.child, dir),
        };
      } catch (err) {
        lastError = err;
        if (!/Address already in use/i.test(String((err as Error).message))) throw err;
      }
    }
    throw lastError;
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function keygen(path: string): Promise<void> {
  await run(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', 'mailroom-test', '-f', path]);
}

const publicKeyOf = (pubFile: string) => pubFile.trim().split(/\s+/).slice(0, 2).join(' ');

async function launch(
  dir: string,
  port: number,
  hostKey: string,
  authorizedKeys: string,
  isRoot: boolean,
  opts: SshdOptions,
): Promise<{ child: ChildProcess; logPath: string }> {
  if (port === 22) throw new Error('refusing to run a test sshd on port 22');
  const configPath = join(dir, `sshd_config-${port}`);
  const logPath = join(dir, `sshd-${port}.log`);
  const config = [
    `ListenAddress ${HOST}`,
    `Port ${port}`,
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, `sshd-${port}.pid`)}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    `PermitRootLogin ${isRoot ? 'prohibit-password' : 'no'}`,
    // internal-sftp runs inside sshd: no login shell, so root's slow start-up file is never paid.
    `Subsystem sftp ${opts.sftp === 'server' ? SFTP_SERVER : 'internal-sftp'}`,
    'SetEnv SHLVL=1',
    'LogLevel VERBOSE',
    '',
  ].join('\n');
  await writeFile(configPath, config);

  const child = spawn(SSHD_BIN, ['-D', '-f', configPath, '-E', logPath], { stdio: 'ignore' });
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`sshd exited (code ${code}, signal ${signal})`));
    child.once('error', (err) => resolve(`sshd failed to start: ${err.message}`));
  });
  try {
    await waitForBanner(port, exited, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    const log = await readFile(logPath, 'utf8').catch(() => '');
    throw new Error(`${(err as Error).message}\n--- ${logPath} ---\n${log}`);
  }
  return { child, logPath };
}

// Poll until the port answers with an SSH banner, the process dies, or the deadline passes.
async function waitForBanner(port: number, exited: Promise<string>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let died: string | undefined;
  void exited.then((why) => {
    died = why;
  });
  while (Date.now() < deadline) {
    if (died !== undefined) throw new Error(died);
    if (await answersSsh(port)) return;
    await delay(25);
  }
  throw new Error(`sshd did not answer on ${HOST}:${port} within ${timeoutMs} ms`);
}

function answersSsh(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: HOST, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1_000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('data', (d) => done(d.toString('latin1').startsWith('SSH-2.0-')));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

async function stopSshd(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = new AbortController();
    const deadline = delay(5_000, 'timeout' as const, { signal: timer.signal }).catch(
      () => 'aborted' as const,
    );
    const first = await Promise.race([gone.then(() => 'gone' as const), deadline]);
    timer.abort();
    if (first === 'timeout') {
      child.kill('SIGKILL');
      await gone;
    }
  }
  await rm(dir, { recursive: true, force: true });
}
