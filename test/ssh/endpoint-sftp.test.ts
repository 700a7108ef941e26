import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isTempName } from '../../src/endpoint/rel-path.js';
import { openSftpEndpoint, sftpEndpoint } from '../../src/endpoint/sftp.js';
import { MailroomError } from '../../src/errors.js';
import { connectSsh, type SshConnection } from '../../src/ssh/connect.js';
import type { SftpSession } from '../../src/ssh/sftp-session.js';
import { type CutProxy, type Direction, startCutProxy } from '../support/cut-proxy.js';
import { endpointContract } from '../support/endpoint-contract.js';
import { expectMailroomError } from '../support/errors.js';
import { describeWithSshd, type Sshd } from '../support/sshd.js';

async function connectTo(sshd: Sshd, port = sshd.port): Promise<SshConnection> {
  let knownHostsPath = sshd.knownHostsPath;
  if (port !== sshd.port) {
    // Through the proxy the host is `[127.0.0.1]:<proxy port>`: same key, its own known_hosts line.
    knownHostsPath = join(sshd.dir, `known_hosts-${port}`);
    await writeFile(knownHostsPath, `[127.0.0.1]:${port} ${sshd.hostPublicKey}\n`);
  }
  return connectSsh({
    host: sshd.host,
    port,
    user: sshd.user,
    identityFiles: [sshd.clientKeyPath],
    knownHostsPath,
    agentSocket: null,
  });
}

// Counts every request the endpoint makes, to prove that bad paths are refused before any IO.
function counting(session: SftpSession): { session: SftpSession; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(session, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || prop === 'end') return value;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { session: proxy, calls };
}

describeWithSshd('sftp endpoint against a real sshd', (sshd) => {
  let conn: SshConnection;
  beforeAll(async () => {
    conn = await connectTo(sshd());
  });
  afterAll(async () => {
    await conn?.close();
  });

  describe('the Endpoint contract', () => {
    endpointContract((root) => openSftpEndpoint(conn, { root, label: `test:${root}` }));
  });

  describe('specific to SFTP', () => {
    let root: string;
    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'mailroom-sftp-'));
    });
    afterEach(() => rm(root, { recursive: true, force: true }));

    it('refuses a path with ".." before sending any request', async () => {
      const { session, calls } = counting(await conn.sftp());
      const ep = sftpEndpoint(session, { root, label: 'counted' });
      await expectMailroomError(ep.readFile('agents/../../etc/passwd'), 'usage', /".." segment/);
      await expectMailroomError(ep.writeFileAtomic('../x', Buffer.from('x')), 'usage', /".." segment/);
      await expectMailroomError(ep.lock('/abs'), 'usage', /absolute/);
      expect(calls).toEqual([]);
      await ep.list('');
      expect(calls.length).toBeGreaterThan(0); // the counter does see real requests
      await ep.close();
    });

    it('the label names the host and the root; a root under ~ is relative to the login folder', async () => {
      const ep = await openSftpEndpoint(conn, { root: '~' });
      expect(ep.label).toBe(`${conn.label}:~`);
      expect((await ep.stat(''))?.kind).toBe('dir');
      await ep.close();
    });

    it('after the connection dies, every operation fails fast with a network error', async () => {
      const proxy = await startCutProxy(sshd().port);
      try {
        const cut = await connectTo(sshd(), proxy.port);
        const ep = await openSftpEndpoint(cut, { root });
        await ep.list('');
        proxy.cutNow();
        await cut.ended;
        await expectMailroomError(ep.list(''), 'network', /connection was lost/);
        await expectMailroomError(
          ep.writeFileAtomic('t.md', Buffer.from('x')),
          'network',
          /connection was lost/,
        );
        await ep.close();
      } finally {
        await proxy.close();
      }
    });
  });

  describe('a connection cut in the middle of writeFileAtomic (1 MB)', () => {
    const OLD = Buffer.alloc(1024 * 1024, 'o');
    const NEW = Buffer.alloc(1024 * 1024, 'n');
    let root: string;
    let proxy: CutProxy;
    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'mailroom-cut-'));
      proxy = await startCutProxy(sshd().port);
    });
    afterEach(async () => {
      await proxy.close();
      await rm(root, { recursive: true, force: true });
    });

    // Cut points while the data is on its way (up) and while replies come back (down).
    const cuts: [Direction, number][] = [
      ['up', 1],
      ['up', 16 * 1024],
      ['up', 300 * 1024],
      ['up', 900 * 1024],
      ['down', 200],
    ];
    it.each(cuts)(
      'cut after %s %i bytes: the old file stays whole; the next write completes',
      async (direction, n) => {
        await writeFile(join(root, 't.md'), OLD);
        const conn2 = await connectTo(sshd(), proxy.port);
        const ep = await openSftpEndpoint(conn2, { root });
        const cutSeen = proxy.nextCut();
        proxy.armCut(direction, n);
        await expectMailroomError(ep.writeFileAtomic('t.md', NEW), 'network', /write t\.md failed/);
        await cutSeen;
        await conn2.ended;
        const after = await readFile(join(root, 't.md'));
        expect(after.equals(OLD)).toBe(true);
        // Only debris named as temp files may be left beside it, never a partial target.
        expect((await readdir(root)).filter((name) => name !== 't.md').every(isTempName)).toBe(true);

        const fresh = await openSftpEndpoint(conn, { root });
        await fresh.writeFileAtomic('t.md', NEW);
        expect((await readFile(join(root, 't.md'))).equals(NEW)).toBe(true);
        await fresh.close();
        await ep.close();
      },
    );

    // The tail of a write carries fsync, close and rename and their replies: measure a whole write's
    // bytes, then cut at points inside that tail. Whatever the point, the file is the old or the new
    // one, whole — the new one when the rename got through but its reply was lost.
    it('cuts near the end of the exchange leave either the old or the new file, whole', async () => {
      const measure = await connectTo(sshd(), proxy.port);
      const probe = await openSftpEndpoint(measure, { root });
      await probe.writeFileAtomic('warmup.md', Buffer.from('x')); // session set-up is not part of a write
      const before = proxy.bytes();
      await probe.writeFileAtomic('measured.md', NEW);
      const after = proxy.bytes();
      await probe.close();
      await measure.close();
      const total = { up: after.up - before.up, down: after.down - before.down };

      const outcomes = new Set<string>();
      const points: [Direction, number][] = [
        ['up', total.up - 400],
        ['up', total.up - 150],
        ['up', total.up - 60],
        ['up', total.up - 1],
        ['down', total.down - 100],
        ['down', total.down - 30],
        ['down', total.down - 1],
      ];
      for (const [direction, n] of points) {
        await writeFile(join(root, 't.md'), OLD);
        const conn2 = await connectTo(sshd(), proxy.port);
        const ep = await openSftpEndpoint(conn2, { root });
        await ep.writeFileAtomic('warmup.md', Buffer.from('x'));
        proxy.armCut(direction, n);
        const result = await ep.writeFileAtomic('t.md', NEW).then(
          () => 'resolved',
          (err: unknown) =>
            err instanceof MailroomError && err.kind === 'network' ? 'rejected' : String(err),
        );
        expect(result === 'resolved' || result === 'rejected', result).toBe(true);
        proxy.cutNow();
        await conn2.ended;
        const content = await readFile(join(root, 't.md'));
        const which = content.equals(OLD) ? 'old' : content.equals(NEW) ? 'new' : 'PARTIAL';
        expect(which, `cut after ${direction} ${n} bytes`).not.toBe('PARTIAL');
        outcomes.add(`${which}/${result}`);
        await ep.close();
      }
      // The sweep must have reached past the rename at least once, or it tested nothing near the end.
      expect([...outcomes].some((o) => o.startsWith('new'))).toBe(true);
    });
  });
});
