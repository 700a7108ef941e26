// The far agent that stays (src/remote/resident.ts), in this process, on a real Unix socket and real
// files: it answers the protocol on its socket, keeps one connection at a time, closes a connection
// that says nothing, ends when idle or when its root goes (taking its socket with it), replaces a
// socket nobody answers on and leaves one that answers alone; and the folder it puts sockets in must
// be private. The hub's side of it (kept-agent.ts): the socket path a far side names is checked, and
// keep_agent's value is read as configured.

import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { watchPaths } from '../../daemon/watch.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import { AgentClient } from '../../src/remote/client.js';
import {
  DEFAULT_KEEP_AGENT_MS,
  isSocketPath,
  keepAgentMs,
  keptAgentSocket,
  noteKeptAgent,
} from '../../src/remote/kept-agent.js';
import { MAX_STAY_MS } from '../../src/remote/protocol.js';
import { answering, runResident, socketDir, socketPathFor } from '../../src/remote/resident.js';
import type { RemoteChannel } from '../../src/ssh/connect.js';
import { makeRoot, taskText } from '../../torture/support.js';
import { tempDir } from '../support/cli.js';
import { pollUntil } from '../support/poll.js';

/** A Unix socket as the hub's channel (what `direct-streamlocal` gives over SSH). */
function socketChannel(sock: Socket): RemoteChannel {
  let ended = false;
  const endCbs: (() => void)[] = [];
  const end = () => {
    if (ended) return;
    ended = true;
    for (const cb of endCbs) cb();
  };
  sock.on('close', end);
  sock.on('end', end);
  sock.on('error', end);
  return {
    write: (chunk) => sock.write(chunk),
    drained: () => new Promise<void>((r) => sock.once('drain', () => r())),
    onData: (cb) => sock.on('data', cb),
    onEnd: (cb) => (ended ? cb() : endCbs.push(cb)),
    pause: () => sock.pause(),
    resume: () => sock.resume(),
    exited: new Promise((r) => sock.once('close', () => r(null))),
    stderr: () => '',
    close: () => sock.end(),
  };
}

/** `ended`, or a failure after 5 s (a hang guard, not a timing: the agent checks every 50 ms here). */
const endsWithin = (ended: Promise<void>) =>
  Promise.race([
    ended,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('the agent did not end')), 5_000).unref(),
    ),
  ]);

const connect = (path: string) =>
  new Promise<Socket>((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });

/** Resolves when the peer closes `sock`; rejects if it has not within 5 s (a hang guard, not a timing). */
const closedByPeer = (sock: Socket) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the agent kept the connection open')), 5_000);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });

describe('a far agent that stays', () => {
  let dir: string;
  let root: string;
  let path: string;
  let cleanup: () => Promise<void>;
  const running: { stop(): void; ended: Promise<void> }[] = [];

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    root = join(dir, 'far');
    await makeRoot(root, 'agents:\n  research: {}\n', ['research']);
    path = join(dir, 'agent.sock');
  });
  afterEach(async () => {
    // Ended before the folder goes: an agent writes its state file as a connection ends.
    for (const r of running.splice(0)) {
      r.stop();
      await r.ended;
    }
    await cleanup();
  });

  const start = async (opts: { stayMs?: number; checkEveryMs?: number; firstByteMs?: number } = {}) => {
    const agentsDir = join(root, 'agents');
    const resident = await runResident({
      root,
      endpoint: localEndpoint(root),
      stayMs: opts.stayMs ?? 60_000,
      socketPath: path,
      watch: (onPath, onError) =>
        watchPaths([agentsDir], (p) => onPath(`agents/${p.slice(agentsDir.length + 1)}`), { onError }),
      ...(opts.checkEveryMs ? { checkEveryMs: opts.checkEveryMs } : {}),
      ...(opts.firstByteMs ? { firstByteMs: opts.firstByteMs } : {}),
    });
    running.push(resident);
    return resident;
  };
  const hello = async (extra: { stayMs?: number } = {}) =>
    AgentClient.start(socketChannel(await connect(path)), {
      host: 'vps',
      command: '(socket)',
      agents: ['research'],
      ...extra,
    });

  it('answers the protocol on its socket, names it in the hello, and sees a file written after it started', async () => {
    await start();
    const client = await hello({ stayMs: 30_000 });
    expect(client.farStay).toBe(path);
    const first = (await client.call({ op: 'manifest' })) as { records: Record<string, unknown> };
    expect(Object.keys(first.records)).toEqual([]);
    client.close();
    // Written by someone else on the far machine between two connections: the watcher tells.
    await writeFile(
      join(root, 'agents/research/inbox/20260101-000000-0001.md'),
      taskText({ id: '20260101-000000-0001', from: 'dispatch', to: 'research' }, 'Body.\n'),
    );
    const again = await pollUntil('a connection after the last one ended', () =>
      hello().catch(() => undefined),
    );
    const second = (await again.call({ op: 'manifest' })) as { records: Record<string, unknown> };
    expect(Object.keys(second.records)).toEqual(['agents/research/inbox/20260101-000000-0001.md']);
    again.close();
  });

  it('keeps one connection at a time: another is closed at once, with no hello', async () => {
    await start();
    const first = await hello();
    const other = await connect(path);
    let heard = 0;
    other.on('data', (d: Buffer) => {
      heard += d.length;
    });
    await closedByPeer(other);
    expect(heard).toBe(0);
    first.close();
  });

  it('closes a connection that sends nothing, so it cannot hold the agent', async () => {
    await start({ firstByteMs: 200 });
    const quiet = await connect(path);
    await closedByPeer(quiet);
    // The agent is free again.
    const client = await pollUntil('the agent free again', () => hello().catch(() => undefined));
    client.close();
  });

  it('ends after its stay without a connection, and removes its socket', async () => {
    const resident = await start({ stayMs: 300 });
    expect(await answering(path)).toBe(true);
    await resident.ended;
    expect(await answering(path)).toBe(false);
    await expect(connect(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('ends when its socket is removed (nobody could reach it)', async () => {
    const resident = await start({ checkEveryMs: 50, stayMs: 600_000 });
    await rm(path);
    await endsWithin(resident.ended);
  });

  it('ends when its root is removed', async () => {
    const resident = await start({ checkEveryMs: 50, stayMs: 600_000 });
    await rm(root, { recursive: true, force: true });
    await endsWithin(resident.ended);
    expect(await answering(path)).toBe(false);
  });

  it('replaces a socket nobody answers on, and leaves one that answers alone', async () => {
    // A socket file left by an agent killed with -9: a real process listens, and is killed.
    const holder = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
    ]);
    await new Promise<void>((r) => holder.stdout.once('data', () => r()));
    const gone = new Promise<void>((r) => holder.once('exit', () => r()));
    holder.kill('SIGKILL');
    await gone;
    expect((await lstat(path)).isSocket()).toBe(true);
    expect(await answering(path)).toBe(false);
    await start();
    expect(await answering(path)).toBe(true);
    // A second agent for the same socket finds the first answering and ends at once.
    const second = await runResident({
      root,
      endpoint: localEndpoint(root),
      stayMs: 60_000,
      socketPath: path,
      watch: async () => ({ close: async () => {} }),
    });
    await second.ended;
    const client = await hello();
    client.close();
  });
});

describe('where agents stay: a private folder', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(async () => cleanup());

  it('is made 0700 under $TMPDIR, and a socket path is named for the root', async () => {
    const uid = process.getuid!();
    const made = socketDir({ TMPDIR: `${dir}/` });
    expect(made).toBe(join(dir, `mailroom-${uid}`));
    expect((await lstat(made!)).mode & 0o777).toBe(0o700);
    const path = socketPathFor(dir, made);
    expect(path).toMatch(new RegExp(`/mailroom-${uid}/serve-[0-9a-f]{16}\\.sock$`));
    expect(socketPathFor(join(dir, '.'), made)).toBe(path); // the real path decides
  });

  it('is refused when others may enter it, or when it is a link', async () => {
    const name = `mailroom-${process.getuid!()}`;
    await mkdir(join(dir, name), { mode: 0o755 });
    await chmod(join(dir, name), 0o755);
    expect(socketDir({ TMPDIR: dir })).toBeUndefined();
    const other = join(dir, 'other');
    await mkdir(join(other, 'real'), { recursive: true, mode: 0o700 });
    await chmod(join(other, 'real'), 0o700);
    await symlink(join(other, 'real'), join(other, name));
    expect(socketDir({ TMPDIR: other })).toBeUndefined();
  });

  it('gives no socket path longer than a Unix socket may have', () => {
    expect(socketPathFor(dir, `/${'x'.repeat(90)}`)).toBeUndefined();
  });
});

describe("the hub's note of a far agent that stays", () => {
  it('takes only an absolute, bounded, printable .sock path from the far side', () => {
    expect(isSocketPath('/tmp/mailroom-1000/serve-0123456789abcdef.sock')).toBe(true);
    for (const bad of [
      'tmp/serve.sock',
      '/tmp/serve.socket',
      `/${'x'.repeat(100)}.sock`,
      '/tmp/\u001b[2Jserve.sock',
      '/tmp/a\nb.sock',
      '/tmp/../etc/x.sock',
      42,
      undefined,
    ])
      expect(isSocketPath(bad), String(bad)).toBe(false);
  });

  it('is used until its time, and not after; a damaged note is none', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const note = join(dir, 'sync', 'vps.far-agent.json');
      await noteKeptAgent(note, '/tmp/mailroom-0/serve-1.sock', 1_000, 10_000);
      expect(keptAgentSocket(note, 10_500)).toBe('/tmp/mailroom-0/serve-1.sock');
      expect(keptAgentSocket(note, 11_000)).toBeUndefined();
      await writeFile(note, '{"socket": "relative.sock", "until": 99999999999999}');
      expect(keptAgentSocket(note, 10_500)).toBeUndefined();
      await writeFile(note, 'not json');
      expect(keptAgentSocket(note, 10_500)).toBeUndefined();
    } finally {
      await cleanup();
    }
  });

  it('keep_agent: the configuration, else $MAILROOM_KEEP_AGENT, else 10 minutes; capped', () => {
    expect(keepAgentMs({}, {})).toBe(DEFAULT_KEEP_AGENT_MS);
    expect(keepAgentMs({}, { MAILROOM_KEEP_AGENT: '0s' })).toBe(0);
    expect(keepAgentMs({ keep_agent: '2m' }, { MAILROOM_KEEP_AGENT: '0s' })).toBe(120_000);
    expect(keepAgentMs({ keep_agent: '0s' }, {})).toBe(0);
    expect(keepAgentMs({ keep_agent: '30d' }, {})).toBe(MAX_STAY_MS);
  });
});
