// The hub's side of the far-agent protocol (src/remote/client.ts): a far side that owes a reply and
// stays silent ends the channel after the reply timeout; a link that was idle for longer than that
// before a request is not a silent far side. And the manifest a hello announces: the far side starts
// that scan at the hello, and never gives it for a manifest asked after a write.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/endpoint/endpoint.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import { AgentClient } from '../../src/remote/client.js';
import { serveAgent } from '../../src/remote/serve.js';
import type { RemoteChannel } from '../../src/ssh/connect.js';
import { taskText } from '../../torture/support.js';
import { pollUntil } from '../support/poll.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailroom-client-'));
});
/** The far agents a test started: each is ended, its last writes into the root done, before the root goes. */
const serving: { up: PassThrough; served: Promise<void> }[] = [];
afterEach(async () => {
  for (const s of serving.splice(0)) {
    s.up.end();
    await s.served;
  }
  await rm(root, { recursive: true, force: true });
});

/** A served far agent whose output reaches the hub `delayMs` late, or never once `mute()` is called. */
function farAgent(delayMs: number, endpoint: Endpoint = localEndpoint(root)) {
  const up = new PassThrough();
  const down = new PassThrough();
  const served = serveAgent({ endpoint, input: up, output: down }).finally(() => down.end());
  serving.push({ up, served });
  let muted = false;
  const channel: RemoteChannel = {
    write: (chunk) => up.write(chunk),
    drained: () => new Promise<void>((r) => up.once('drain', () => r())),
    onData: (cb) =>
      down.on('data', (chunk: Buffer) => {
        if (!muted) setTimeout(() => cb(chunk), delayMs);
      }),
    onEnd: (cb) => down.on('end', cb),
    pause: () => down.pause(),
    resume: () => down.resume(),
    exited: Promise.resolve(0),
    stderr: () => '',
    close: () => up.end(),
  };
  return { channel, mute: () => (muted = true) };
}

const opts = { host: 'vps', command: '(test)', replyTimeoutMs: 400, replyCheckMs: 10 };

describe('AgentClient reply timeout', () => {
  it('a request after a long idle link waits for its reply (the clock starts at the request)', async () => {
    const far = farAgent(100);
    const client = await AgentClient.start(far.channel, opts);
    await new Promise((r) => setTimeout(r, 600)); // idle, longer than the reply timeout
    await expect(client.call({ op: 'list', rel: '' })).resolves.toBeDefined();
    expect(client.failed).toBeUndefined();
    client.close();
  });

  it('a far side that owes a reply and stays silent ends the channel, naming the host', async () => {
    const far = farAgent(0);
    const client = await AgentClient.start(far.channel, opts);
    far.mute();
    await expect(client.call({ op: 'list', rel: '' })).rejects.toThrow(
      /vps: the far mailroom sent nothing for 0.4 s/,
    );
  });
});

describe('AgentClient start', () => {
  it('onHelloSent is called once the hello is written, before the far hello comes back', async () => {
    const far = farAgent(50);
    const written: number[] = [];
    const write = far.channel.write;
    far.channel.write = (chunk) => {
      written.push(chunk.length);
      return write(chunk);
    };
    let atHello: number[] | undefined;
    let answered = false;
    const starting = AgentClient.start(far.channel, {
      ...opts,
      onHelloSent: () => {
        atHello = [...written];
      },
    }).then((c) => {
      answered = true;
      return c;
    });
    expect(atHello).toHaveLength(1); // called at once, from within start: the hello was written
    expect(answered).toBe(false);
    (await starting).close();
  });
});

/** The local endpoint at the root, with the folders its `list` was asked for. */
function listing() {
  const ep = localEndpoint(root);
  const listed: string[] = [];
  const endpoint = new Proxy(ep, {
    get(target, key) {
      if (key === 'list')
        return (rel: string) => {
          listed.push(rel);
          return target.list(rel);
        };
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { endpoint, listed };
}

const ID = '20260101-000000-aaaa';
const ID2 = '20260101-000000-bbbb';

describe('a manifest announced in the hello', () => {
  beforeEach(async () => {
    await mkdir(join(root, 'agents/w/inbox'), { recursive: true });
    await writeFile(
      join(root, `agents/w/inbox/${ID}.md`),
      taskText({ id: ID, from: 'dispatch', to: 'w' }, 'Do it.\n'),
    );
  });

  it('is scanned for as soon as the hello arrives, and given to the first manifest request', async () => {
    const { endpoint, listed } = listing();
    const far = farAgent(0, endpoint);
    const client = await AgentClient.start(far.channel, { ...opts, agents: ['w'], prefetchManifest: true });
    await pollUntil('the far scan to start without a request', () => listed.includes('agents'), 5_000, 5);
    const m = (await client.call({ op: 'manifest' })) as { tasks: [string, string][] };
    expect(m.tasks).toEqual([[ID, `agents/w/inbox/${ID}.md`]]);
    client.close();
  });

  it('is not given for a manifest asked after a write: that manifest shows the write', async () => {
    const { endpoint, listed } = listing();
    const far = farAgent(0, endpoint);
    const client = await AgentClient.start(far.channel, { ...opts, agents: ['w'], prefetchManifest: true });
    await pollUntil('the far scan to start', () => listed.includes('agents'), 5_000, 5);
    const data = Buffer.from(taskText({ id: ID2, from: 'dispatch', to: 'w' }, 'Do it.\n')).toString('base64');
    await client.call({ op: 'put', rel: `agents/w/inbox/${ID2}.md`, data, expect: null });
    const m = (await client.call({ op: 'manifest' })) as { tasks: [string, string][] };
    expect(m.tasks.map(([id]) => id).sort()).toEqual([ID, ID2]);
    client.close();
  });
});
