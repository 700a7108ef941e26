// A followed far agent scans ahead between a daemon's passes and, asked to (`watch` with `ahead`),
// sends the change unasked (docs/sync.md, "Scanning ahead"): the next pass takes it without asking,
// unless a change was heard after it; a request that crossed a push on the way gets the change since
// the push, not a whole manifest; a hub that did not ask is never sent one.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentEndpoint } from '../../src/endpoint/agent.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import type { AgentClient } from '../../src/remote/client.js';
import { FarScanner } from '../../src/remote/far-scan.js';
import { WatchedListings } from '../../src/sync/watched-listings.js';
import { makeRoot } from '../../torture/support.js';
import { pipedAgent } from '../support/agent-pipe.js';
import { pollUntil } from '../support/poll.js';
import { queuedTaskFile } from '../support/task-file.js';

const AGENTS = ['r0'];
const id = (n: number) => `20260101-000000-${String(n).padStart(4, '0')}`;

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailroom-ahead-'));
  await makeRoot(root, 'agents:\n  r0: {}\n', AGENTS);
  await writeFile(join(root, 'agents/r0/inbox', `${id(0)}.md`), queuedTaskFile(id(0), 'first'));
});
afterEach(async () => rm(root, { recursive: true, force: true }));

/** The manifest requests `ep` sends from now on. */
function countManifests(ep: AgentEndpoint): { n: number } {
  const client = (ep as unknown as { client: AgentClient }).client;
  const call = client.call.bind(client);
  const count = { n: 0 };
  client.call = (req) => {
    if (req.op === 'manifest') count.n++;
    return call(req);
  };
  return count;
}

/** A far agent whose folders are watched (a daemon's), piped to a hub endpoint over the test root. */
const followed = () => pipedAgent(root, AGENTS, 'vps', join(root, 'hub-copy.json'), { watch: true });
/** A second task, written on the far side. */
const writeSecond = () =>
  writeFile(join(root, 'agents/r0/outbox', `${id(1)}.md`), queuedTaskFile(id(1), 'second'));

const readyOf = (ep: AgentEndpoint) => (ep as unknown as { ready?: { heard: number } }).ready;

describe('a followed far agent that scans ahead', () => {
  it('sends the change unasked once its folders are quiet; the next scan takes it and asks for none', async () => {
    const ep = await followed();
    try {
      await ep.onChanges(AGENTS, () => {}, { ahead: true });
      expect([...(await ep.scan(AGENTS)).tasks.keys()]).toEqual([id(0)]);
      const asked = countManifests(ep);
      await writeSecond();
      await pollUntil('a manifest sent ahead, with the new task', () => readyOf(ep));
      const next = await ep.scan(AGENTS);
      expect([...next.tasks.keys()].sort()).toEqual([id(0), id(1)]);
      expect(next.tasks.get(id(1))?.loc).toBe('r0/outbox');
      expect(asked.n).toBe(0);
    } finally {
      await ep.close();
    }
  });

  it('a change heard after the push makes the next scan ask, and it sees both changes', async () => {
    const ep = await followed();
    try {
      // A scan started the moment a change is heard (before the far agent, quiet again, could send
      // another scan ahead) must not take the one sent before the change.
      let onHeard: (() => void) | undefined;
      await ep.onChanges(AGENTS, () => onHeard?.(), { ahead: true });
      await ep.scan(AGENTS);
      const asked = countManifests(ep);
      await writeSecond();
      await pollUntil('a manifest sent ahead', () => readyOf(ep));
      const next = new Promise<Awaited<ReturnType<typeof ep.scan>>>((resolve, reject) => {
        onHeard = () => {
          onHeard = undefined;
          ep.scan(AGENTS).then(resolve, reject);
        };
      });
      await rm(join(root, 'agents/r0/inbox', `${id(0)}.md`));
      expect([...(await next).tasks.keys()]).toEqual([id(1)]);
      expect(asked.n).toBe(1);
    } finally {
      await ep.close();
    }
  });

  it('is never sent to a hub that did not ask for it', async () => {
    const ep = await followed();
    try {
      let heard = 0;
      await ep.onChanges(AGENTS, () => heard++);
      await ep.scan(AGENTS);
      await writeSecond();
      await pollUntil('the change heard', () => heard > 0);
      // The far agent scans ahead for itself (a request then finds the scan done), but sends nothing:
      // an unasked message would have ended the channel (AgentClient refuses it).
      const asked = countManifests(ep);
      expect([...(await ep.scan(AGENTS)).tasks.keys()].sort()).toEqual([id(0), id(1)]);
      expect(asked.n).toBe(1);
      expect((ep as unknown as { client: AgentClient }).client.failed).toBeUndefined();
    } finally {
      await ep.close();
    }
  });
});

describe('the far scanner: pushes and requests in order', () => {
  it('a request naming the generation a push moved on from gets the change since the push', async () => {
    const scanner = new FarScanner(localEndpoint(root));
    const listings = new WatchedListings();
    listings.start();
    scanner.watched = listings;
    const first = await scanner.reply(AGENTS, undefined);
    if (!('generation' in first)) throw new Error('expected a whole manifest first');
    const g1 = first.generation;
    await writeSecond();
    listings.hint(`agents/r0/outbox/${id(1)}.md`);
    await scanner.scanAhead(AGENTS);
    const pushed = await scanner.pushAhead(AGENTS);
    expect(pushed?.since).toBe(g1);
    expect(pushed?.tasks.map(([t]) => t)).toEqual([id(1)]);
    // The hub asked with g1 before the push reached it; it holds the push by the time this comes.
    const crossed = await scanner.reply(AGENTS, g1);
    if (!('delta' in crossed)) throw new Error('a whole manifest, where the change since the push was due');
    expect(crossed.delta.since).toBe(pushed?.generation);
    expect(crossed.delta.tasks).toEqual([]);
    // And a later request naming g1 again is not taken for the push's: the whole manifest.
    const later = await scanner.reply(AGENTS, g1);
    expect('generation' in later).toBe(true);
  });

  it('a scan ahead that a change overtook is not sent', async () => {
    const scanner = new FarScanner(localEndpoint(root));
    const listings = new WatchedListings();
    listings.start();
    scanner.watched = listings;
    await scanner.reply(AGENTS, undefined);
    const running = scanner.scanAhead(AGENTS);
    listings.hint(`agents/r0/outbox/${id(1)}.md`); // heard while it scanned
    await running;
    expect(await scanner.pushAhead(AGENTS)).toBeUndefined();
  });
});
