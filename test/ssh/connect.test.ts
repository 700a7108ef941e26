import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { connectSsh } from '../../src/ssh/connect.js';
import { startCutProxy } from '../support/cut-proxy.js';
import { expectMailroomError } from '../support/errors.js';
import { pollUntil } from '../support/poll.js';
import { describeWithSshd, freePort } from '../support/sshd.js';

const run = promisify(execFile);

describeWithSshd('connectSsh against a real sshd', (sshd) => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'mailroom-connect-'));
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  const base = () => ({
    host: sshd().host,
    port: sshd().port,
    user: sshd().user,
    identityFiles: [sshd().clientKeyPath],
    knownHostsPath: sshd().knownHostsPath,
    agentSocket: null,
  });

  it('the harness: loopback, not port 22, known_hosts holds the bracketed host key line', async () => {
    expect(sshd().host).toBe('127.0.0.1');
    expect(sshd().port).not.toBe(22);
    expect(await readFile(sshd().knownHostsPath, 'utf8')).toBe(
      `[127.0.0.1]:${sshd().port} ${sshd().hostPublicKey}\n`,
    );
    expect(sshd().hostPublicKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);
  });

  it('connects with a key file, verifies the host key, and opens SFTP', async () => {
    const conn = await connectSsh(base());
    try {
      expect(conn.isOpen).toBe(true);
      const sftp = await conn.sftp();
      expect((await sftp.lstat(scratch)).kind).toBe('dir');
      sftp.end();
    } finally {
      await conn.close();
    }
    expect(conn.isOpen).toBe(false);
    expect(await conn.ended).toBeUndefined();
    await conn.close(); // idempotent
  });

  it('a far folder listing more entries than the cap is refused, naming the folder; at the cap it is listed', async () => {
    const many = join(scratch, 'many');
    await mkdir(many);
    for (let i = 0; i < 40; i++) await writeFile(join(many, `f${i}.md`), 'x');
    const conn = await connectSsh(base());
    try {
      const capped = await conn.sftp({ maxDirEntries: 25 });
      await expect(capped.readdir(many)).rejects.toThrow(/many.*more than 25 entries: refused/);
      capped.end();
      const room = await conn.sftp({ maxDirEntries: 40 });
      expect((await room.readdir(many)).map((e) => e.name).sort()).toHaveLength(40);
      room.end();
    } finally {
      await conn.close();
    }
  });

  /** What the handshake sent and received, in order (ssh2's debug lines, trimmed to the message). */
  const loggedIn = async (opts: Partial<Parameters<typeof connectSsh>[0]> = {}) => {
    const lines: string[] = [];
    const debug = (line: string) => {
      const m = /^(Outbound: Sending|Inbound: Received) (\S+(?: \([^)]*\))?)/.exec(line);
      if (m) lines.push(`${m[1]!.startsWith('Out') ? '>' : '<'} ${m[2]}`);
    };
    const conn = await connectSsh({ ...base(), ...opts, debug });
    await conn.close();
    return lines;
  };
  const before = (lines: string[], a: string, b: string) => {
    expect(lines).toContain(a);
    expect(lines).toContain(b);
    return lines.indexOf(a) < lines.indexOf(b);
  };

  it('a key file logs in two round trips sooner: signed at once, right behind SERVICE_REQUEST', async () => {
    const lines = await loggedIn();
    expect(lines.filter((l) => l.includes('publickey -- check'))).toEqual([]);
    expect(before(lines, '> USERAUTH_REQUEST (publickey)', '< SERVICE_ACCEPT (ssh-userauth)')).toBe(true);
    expect(lines.filter((l) => l.startsWith('> USERAUTH_REQUEST'))).toHaveLength(1);
    // ssh2's own order with MAILROOM_SSH_PIPELINE=0: wait for SERVICE_ACCEPT, ask, then sign.
    vi.stubEnv('MAILROOM_SSH_PIPELINE', '0');
    try {
      const own = await loggedIn();
      expect(before(own, '< SERVICE_ACCEPT (ssh-userauth)', '> USERAUTH_REQUEST (publickey -- check)')).toBe(
        true,
      );
      expect(before(own, '< USERAUTH_PK_OK', '> USERAUTH_REQUEST (publickey)')).toBe(true);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('whileConnecting runs once, with the handshake under way (before it is done)', async () => {
    const seen: string[] = [];
    const conn = await connectSsh({
      ...base(),
      whileConnecting: () => seen.push('while connecting'),
      debug: (line) => {
        if (/Handshake completed|USERAUTH_SUCCESS/.test(line))
          seen.push(line.replace(/^.*(Handshake completed|USERAUTH_SUCCESS).*$/, '$1'));
      },
    });
    await conn.close();
    expect(seen).toEqual(['while connecting', 'Handshake completed', 'USERAUTH_SUCCESS']);
  });

  it('a key the server refuses, signed at once, is passed over for the next one', async () => {
    const stranger = join(scratch, 'stranger_first');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const lines = await loggedIn({ identityFiles: [stranger, sshd().clientKeyPath] });
    expect(lines.filter((l) => l === '> USERAUTH_REQUEST (publickey)')).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('< USERAUTH_'))).toEqual([
      '< USERAUTH_FAILURE (publickey)',
      '< USERAUTH_SUCCESS',
    ]);
  });

  it('an RSA key is signed with the SHA-2 algorithm the server named (it refuses ssh-rsa)', async () => {
    const rsa = join(scratch, 'client_rsa');
    await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsa]);
    await appendFile(join(sshd().dir, 'authorized_keys'), await readFile(`${rsa}.pub`, 'utf8'));
    const lines = await loggedIn({ identityFiles: [rsa] });
    expect(lines.filter((l) => l.startsWith('< USERAUTH_'))).toEqual(['< USERAUTH_SUCCESS']);
    expect(lines.filter((l) => l.includes('publickey -- check'))).toEqual([]);
  });

  it('refuses an unknown host (empty known_hosts) and says how to add it', async () => {
    const empty = join(scratch, 'empty_known_hosts');
    await writeFile(empty, '');
    const err = await expectMailroomError(
      connectSsh({ ...base(), knownHostsPath: empty }),
      'refused',
      new RegExp(`\\[127\\.0\\.0\\.1\\]:${sshd().port}.*not in`),
    );
    expect(err.hint).toContain(`ssh-keyscan -p ${sshd().port} 127.0.0.1 >> ${empty}`);
    expect(err.message).toMatch(/SHA256:/);
  });

  it('an identity file readable by others is refused, as OpenSSH does', async () => {
    const loose = join(scratch, 'loose_key');
    await writeFile(loose, await readFile(sshd().clientKeyPath));
    await chmod(loose, 0o644);
    await expectMailroomError(
      connectSsh({ ...base(), identityFiles: [loose] }),
      'usage',
      /readable by others \(mode 0644\).*chmod 600/,
    );
  });

  it('a key type other than the known one is a possible impostor, with no keyscan hint', async () => {
    const otherKey = join(scratch, 'ecdsa_host_key');
    await run('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-f', otherKey]);
    const pub = (await readFile(`${otherKey}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    const kh = join(scratch, 'ecdsa_known_hosts');
    await writeFile(kh, `[127.0.0.1]:${sshd().port} ${pub}\n`);
    const err = await expectMailroomError(
      connectSsh({ ...base(), knownHostsPath: kh }),
      'refused',
      /impostor/,
    );
    expect(`${err.message} ${err.hint}`).not.toMatch(/keyscan/);
  });

  it('a missing known_hosts file is an empty one', async () => {
    await expectMailroomError(
      connectSsh({ ...base(), knownHostsPath: join(scratch, 'does-not-exist') }),
      'refused',
      /ssh-keyscan/,
    );
  });

  it('refuses loudly when the host key changed', async () => {
    const otherKey = join(scratch, 'other_host_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const pub = (await readFile(`${otherKey}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    const changed = join(scratch, 'changed_known_hosts');
    await writeFile(changed, `[127.0.0.1]:${sshd().port} ${pub}\n`);
    const err = await expectMailroomError(
      connectSsh({ ...base(), knownHostsPath: changed }),
      'refused',
      /HAS CHANGED/,
    );
    expect(err.message).toMatch(/man-in-the-middle/);
    expect(err.hint).toMatch(/ssh-keygen -R/);
  });

  it('authentication failure is a network error that names the host, never a password prompt', async () => {
    const stranger = join(scratch, 'stranger_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const err = await expectMailroomError(
      connectSsh({ ...base(), identityFiles: [stranger] }),
      'network',
      /authentication failed/,
    );
    expect(err.message).toContain(`${sshd().user}@127.0.0.1:${sshd().port}`);
    expect(err.exitCode).toBe(4);
  });

  it('a passphrase-protected key without an agent is refused with the ssh-add fix', async () => {
    const locked = join(scratch, 'locked_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret passphrase', '-f', locked]);
    await expectMailroomError(connectSsh({ ...base(), identityFiles: [locked] }), 'usage', /ssh-add/);
  });

  it('nothing listening: network error naming host, port and cause', async () => {
    const port = await freePort();
    const err = await expectMailroomError(connectSsh({ ...base(), port }), 'network', /ECONNREFUSED/);
    expect(err.message).toContain(`127.0.0.1:${port}`);
  });

  it('authenticates through ssh-agent (SSH_AUTH_SOCK) with no key file at all', async () => {
    if (!existsSync('/usr/bin/ssh-agent')) throw new Error('ssh-agent is missing (install openssh-client)');
    const sock = join(scratch, 'agent.sock');
    const agent: ChildProcess = spawn('/usr/bin/ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      await pollUntil('the ssh-agent socket', () => existsSync(sock));
      await run('ssh-add', ['-q', sshd().clientKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      const conn = await connectSsh({
        ...base(),
        identityFiles: [join(scratch, 'no-such-key')],
        agentSocket: sock,
      });
      await conn.close();
    } finally {
      agent.kill('SIGTERM');
    }
  });

  it('a connection cut under us settles `ended` with a network error', async () => {
    const proxy = await startCutProxy(sshd().port);
    try {
      // known_hosts names the real port; the proxy's port needs its own line with the same key.
      const kh = join(scratch, 'proxy_known_hosts');
      await writeFile(kh, `[127.0.0.1]:${proxy.port} ${sshd().hostPublicKey}\n`);
      const conn = await connectSsh({ ...base(), port: proxy.port, knownHostsPath: kh });
      const sftp = await conn.sftp();
      proxy.cutNow();
      const ended = await conn.ended;
      expect(ended?.kind).toBe('network');
      expect(conn.isOpen).toBe(false);
      // A request after the cut fails at once instead of waiting forever.
      await expect(sftp.lstat(scratch)).rejects.toMatchObject({ failure: 'connectionLost' });
      await expectMailroomError(conn.sftp(), 'network', /closed/);
    } finally {
      await proxy.close();
    }
  });
});
