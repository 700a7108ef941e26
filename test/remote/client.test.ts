// The hub's side of the far-agent protocol (src/remote/client.ts): a far side that owes a reply and
// stays silent ends the channel after the reply timeout; a link that was idle for longer than that
// before a request is not a silent far side.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localEndpoint } from '../../src/endpoint/local.js';
import { AgentClient } from '../../src/remote/client.js';
import { serveAgent } from '../../src/remote/serve.js';
import type { RemoteChannel } from '../../src/ssh/connect.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailroom-client-'));
});
afterEach(async () => rm(root, { recursive: true, force: true }));

/** A served far agent whose output reaches the hub `delayMs` late, or never once `mute()` is called. */
function farAgent(delayMs: number) {
  const up = new PassThrough();
  const down = new PassThrough();
  void serveAgent({ endpoint: localEndpoint(root), input: up, output: down }).finally(() => down.end());
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
