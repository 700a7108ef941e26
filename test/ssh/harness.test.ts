import { connect, createServer, type Server } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCutProxy } from '../support/cut-proxy.js';
import { pollUntil } from '../support/poll.js';
import { sshdAvailable, sshdGate, startSshd } from '../support/sshd.js';

describe('sshdGate: a missing sshd skips locally and fails in CI', () => {
  const missing = { ok: false as const, reason: '/usr/sbin/sshd is missing (install openssh-server)' };
  it.each([
    [{ ok: true as const }, {}, 'run'],
    [{ ok: true as const }, { CI: 'true' }, 'run'],
    [missing, {}, 'skip'],
    [missing, { CI: 'false' }, 'skip'],
    [missing, { CI: 'true' }, 'fail'],
  ])('%j with env %j -> %s', (available, env, action) => {
    expect(sshdGate(available, env).action).toBe(action);
  });
});

const gate = sshdGate(sshdAvailable(), process.env);

describe('startSshd', () => {
  // Skipped (loudly, by the other suites' gate) only off CI: under CI=true a missing sshd must fail.
  it.skipIf(gate.action === 'skip')(
    `starts on loopback, answers SSH, and stop() ends exactly its process${gate.action === 'skip' ? ` [skipped: ${gate.reason}]` : ''}`,
    async () => {
      const sshd = await startSshd();
      expect(sshd.port).not.toBe(22);
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      expect(alive(sshd.pid)).toBe(true);
      await sshd.stop();
      expect(alive(sshd.pid)).toBe(false);
    },
  );
});

// An echo-less sink on the far end records exactly what came through the proxy.
describe('cut-proxy', () => {
  let sink: Server;
  let received: Buffer[];
  let sinkPort: number;
  beforeEach(async () => {
    received = [];
    sink = createServer((s) => {
      s.on('data', (d) => received.push(d));
      s.on('error', () => undefined);
      s.write(Buffer.alloc(1000, 'd'));
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
    const a = sink.address();
    sinkPort = typeof a === 'object' && a !== null ? a.port : 0;
  });
  afterEach(() => new Promise<void>((r) => sink.close(() => r())));

  it('forwards both ways, then cuts after exactly N more bytes up', async () => {
    const proxy = await startCutProxy(sinkPort);
    const client = connect({ host: '127.0.0.1', port: proxy.port });
    const down: Buffer[] = [];
    client.on('data', (d) => down.push(d));
    const closed = new Promise<void>((r) => client.on('close', () => r()));
    client.on('error', () => undefined);
    await pollUntil('the greeting to come down', () => Buffer.concat(down).length === 1000);
    client.write(Buffer.alloc(100, 'a'));
    await pollUntil('100 bytes up', () => Buffer.concat(received).length === 100);
    const cut = proxy.nextCut();
    proxy.armCut('up', 37);
    client.write(Buffer.alloc(500, 'b'));
    expect(await cut).toEqual({ direction: 'up', at: 137 });
    await closed;
    expect(Buffer.concat(received).toString()).toBe('a'.repeat(100) + 'b'.repeat(37));
    expect(proxy.bytes()).toEqual({ up: 137, down: 1000 });
    await proxy.close();
  });

  it('cuts down-stream too, and lets new connections through afterwards', async () => {
    const proxy = await startCutProxy(sinkPort);
    proxy.armCut('down', 10);
    const first = connect({ host: '127.0.0.1', port: proxy.port });
    const got: Buffer[] = [];
    first.on('data', (d) => got.push(d)).on('error', () => undefined);
    await new Promise<void>((r) => first.on('close', () => r()));
    expect(Buffer.concat(got).length).toBe(10);
    const second = connect({ host: '127.0.0.1', port: proxy.port });
    const got2: Buffer[] = [];
    second.on('data', (d) => got2.push(d)).on('error', () => undefined);
    await pollUntil('a whole greeting on a new connection', () => Buffer.concat(got2).length === 1000);
    second.destroy();
    await proxy.close();
  });
});
