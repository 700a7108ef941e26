// The fast path (src/sync/changed.ts) on two real folders: it must do exactly what a full pass would
// in the plain case (and leave the state so that the next full pass has nothing to do), and decline
// (`full`, nothing written) in every other case.

import { mkdir, readFile, rename, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/endpoint/endpoint.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import { openMailroom } from '../../src/mailroom.js';
import { syncChanged } from '../../src/sync/changed.js';
import type { Side } from '../../src/sync/reconcile.js';
import { pipedAgent } from '../support/agent-pipe.js';
import { runCli } from '../support/cli.js';
import { locations } from '../support/daemon.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

let sides: TwoMachines;
let hub: string;
let far: string;

beforeEach(async () => {
  sides = await twoMachines({ agents: ['research', 'writer'] });
  ({ hub, far } = sides);
});
afterEach(async () => sides.cleanup());

const full = () => sides.sync();
const fast = async (side: Side, paths: string[], remote: Endpoint = localEndpoint(far)) =>
  syncChanged(await openMailroom(hub), 'vps', side, paths, remote);
const cli = (root: string, args: string[]) => runCli([...args, '--root', root]);
const send = async (to = 'research') =>
  (await cli(hub, ['send', to, 'A task', '--as', 'dispatch'])).stdout.trim();
const inbox = (id: string, agent = 'research') => `agents/${agent}/inbox/${id}.md`;
const read = (root: string, rel: string) => readFile(join(root, rel), 'utf8');
const nothingLeft = async () => {
  const r = await full();
  expect(r.pushed + r.pulled + r.merged + r.deleted, JSON.stringify(r.plan)).toBe(0);
};

/** The far side as a folder, with every call of the named methods recorded as `method path`. */
const countedFar = (methods: readonly string[], calls: string[]) =>
  new Proxy(localEndpoint(far), {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !methods.includes(prop) || typeof value !== 'function') return value;
      return (rel: string, ...rest: unknown[]) => {
        calls.push(`${prop} ${rel}`);
        return value.call(target, rel, ...rest);
      };
    },
  });

describe('sync fast path', () => {
  it('pushes a hub edit and pulls a far edit exactly as a full pass would', async () => {
    const id = await send();
    await full();
    const text = await read(hub, inbox(id));
    await writeFile(join(hub, inbox(id)), text.replace('priority: normal', 'priority: high'));
    expect(await fast('local', [inbox(id)])).toEqual({
      kind: 'done',
      pushed: 1,
      pulled: 0,
      deleted: 0,
      tasks: 1,
    });
    expect(await read(far, inbox(id))).toBe(await read(hub, inbox(id)));
    await nothingLeft();

    expect((await cli(far, ['ack', id])).code).toBe(0);
    expect(await fast('remote', [inbox(id)])).toEqual({
      kind: 'done',
      pushed: 0,
      pulled: 1,
      deleted: 0,
      tasks: 1,
    });
    expect(await read(hub, inbox(id))).toBe(await read(far, inbox(id)));
    expect(await read(hub, inbox(id))).toMatch(/state: acked/);
    await nothingLeft();
  });

  it('does not read the far copy when its size and mtime are what the last full pass recorded', async () => {
    const id = await send();
    await full();
    const anHourAgo = Math.floor(Date.now() / 1000) - 3600;
    await utimes(join(far, inbox(id)), anHourAgo, anHourAgo); // settled, by the scan's racy rule
    await full();
    await writeFile(
      join(hub, inbox(id)),
      (await read(hub, inbox(id))).replace('priority: normal', 'priority: high'),
    );
    const reads: string[] = [];
    const r = await fast('local', [inbox(id)], countedFar(['readFile'], reads));
    expect(r).toEqual({ kind: 'done', pushed: 1, pulled: 0, deleted: 0, tasks: 1 });
    expect(reads).toEqual([]);
    expect(await read(far, inbox(id))).toBe(await read(hub, inbox(id)));
    await nothingLeft();
  });

  it('a pull reads the far file once: apply sends the bytes the look read (over a far link, a round trip)', async () => {
    const id = await send();
    await full();
    expect((await cli(far, ['ack', id])).code).toBe(0);
    const calls: string[] = [];
    const r = await fast('remote', [inbox(id)], countedFar(['readFile'], calls));
    expect(r).toEqual({ kind: 'done', pushed: 0, pulled: 1, deleted: 0, tasks: 1 });
    expect(calls).toEqual([`readFile ${inbox(id)}`]);
    expect(await read(hub, inbox(id))).toBe(await read(far, inbox(id)));
    await nothingLeft();
  });

  it('a new task is pushed after one look at the far boxes, not a second one before the write', async () => {
    await send('writer');
    await full(); // a base exists
    const id = await send();
    const calls: string[] = [];
    const r = await fast('local', [inbox(id)], countedFar(['stat'], calls));
    expect(r).toEqual({ kind: 'done', pushed: 1, pulled: 0, deleted: 0, tasks: 1 });
    // The look: each box of each of the host's agents, once (research and writer: 2 x 3 boxes).
    const stats = calls.filter((c) => c.includes(id));
    expect(stats.length).toBe(6);
    expect(new Set(stats).size).toBe(6);
    expect(await read(far, inbox(id))).toBe(await read(hub, inbox(id)));
    await nothingLeft();
  });

  it('through a far agent, a new task is pushed in one request: the create itself checks every box', async () => {
    await send('writer');
    await full(); // a base exists
    const id = await send();
    const agent = await pipedAgent(far, ['research', 'writer']);
    try {
      const calls: string[] = [];
      const counted = new Proxy(agent, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function' || typeof prop !== 'string') return value;
          return (...args: unknown[]) => {
            if (['stat', 'readFile', 'putIf', 'list'].includes(prop)) calls.push(`${prop} ${args[0]}`);
            return value.apply(target, args);
          };
        },
      });
      expect(await fast('local', [inbox(id)], counted)).toEqual({
        kind: 'done',
        pushed: 1,
        pulled: 0,
        deleted: 0,
        tasks: 1,
      });
      expect(calls).toEqual([`putIf ${inbox(id)}`]);
      expect(await read(far, inbox(id))).toBe(await read(hub, inbox(id)));
      await nothingLeft();

      // A copy of a new id already in another far box: the create is refused there, nothing is
      // written, and the full pass decides.
      const twin = await send();
      await writeFile(join(far, `agents/writer/outbox/${twin}.md`), await read(hub, inbox(twin)));
      expect(await fast('local', [inbox(twin)], agent)).toMatchObject({
        kind: 'full',
        reason: expect.stringMatching(/holds this task already/),
      });
      expect((await locations(far)).get(twin)).toEqual(['writer/outbox']);
    } finally {
      await agent.close();
    }
  });

  it("a hub change looks at a far agent's copy with one request for its bytes: the state keeps no far records then", async () => {
    const id = await send();
    await full();
    const path = inbox(id);
    await writeFile(join(hub, path), (await read(hub, path)).replace('priority: normal', 'priority: high'));
    const calls: string[] = [];
    // A far side that scans itself and batches, as the far agent does (AgentEndpoint).
    const counted = countedFar(['stat', 'readFile'], calls);
    const farAgent = new Proxy(counted, {
      get: (target, prop, receiver) =>
        prop === 'scan'
          ? () => Promise.reject(new Error('unused'))
          : prop === 'parallelism'
            ? 64
            : Reflect.get(target, prop, receiver),
    });
    const r = await fast('local', [path], farAgent);
    expect(r).toEqual({ kind: 'done', pushed: 1, pulled: 0, deleted: 0, tasks: 1 });
    // The look: the task's three boxes there, each asked for its bytes (one batch, one round trip);
    // no stat first (a second round trip). What follows is apply's conditional write.
    const boxes = ['inbox', 'outbox', 'archive'].map((b) => `readFile agents/research/${b}/${id}.md`);
    expect(calls.slice(0, 3).sort()).toEqual(boxes.sort());
    await nothingLeft();
  });

  it('a box or agent folder in the changed paths costs no look: watchers report the folder with its entries', async () => {
    await send('writer');
    await full(); // a base exists
    const sent = await cli(far, ['send', 'research', 'From far', '--as', 'writer']);
    expect(sent.code, sent.stderr).toBe(0);
    const id = sent.stdout.trim();
    const calls: string[] = [];
    const r = await fast(
      'remote',
      ['agents/research', 'agents/research/inbox', inbox(id)],
      countedFar(['stat', 'list'], calls),
    );
    expect(r).toEqual({ kind: 'done', pushed: 0, pulled: 1, deleted: 0, tasks: 1 });
    // Each call is the look at the task's boxes; none asks what the reported folders are (over a far
    // link, a round trip before the look: a far change reached the hub 45 ms later at 40 ms RTT).
    expect(calls.filter((c) => !c.includes(id))).toEqual([]);
    // A path under agents/ that is not a folder of the layout still asks (and is a full pass).
    const other = await fast('remote', ['agents/research/notes.txt'], countedFar(['stat'], calls));
    expect(other.kind).toBe('full');
    await nothingLeft();
  });

  it('a move on one side (finished into the outbox) is carried over, old copy removed', async () => {
    const id = await send();
    await full();
    for (const args of [
      ['ack', id],
      ['start', id],
      ['done', id, '--result', 'ok'],
    ])
      expect((await cli(far, args)).code).toBe(0);
    const outbox = `agents/research/outbox/${id}.md`;
    const r = await fast('remote', [inbox(id), outbox]);
    expect(r).toEqual({ kind: 'done', pushed: 0, pulled: 1, deleted: 0, tasks: 1 });
    expect((await locations(hub)).get(id)).toEqual(['research/outbox']);
    expect(await read(hub, outbox)).toBe(await read(far, outbox));
    await nothingLeft();
  });

  it('a move to another agent of the host (both folders report it) is carried over', async () => {
    const id = await send();
    await full();
    expect((await cli(far, ['reassign', id, 'writer'])).code).toBe(0);
    const r = await fast('remote', [inbox(id), inbox(id, 'writer')]);
    expect(r).toEqual({ kind: 'done', pushed: 0, pulled: 1, deleted: 0, tasks: 1 });
    expect((await locations(hub)).get(id)).toEqual(['writer/inbox']);
    expect(await read(hub, inbox(id, 'writer'))).toBe(await read(far, inbox(id, 'writer')));
    await nothingLeft();
  });

  it('a new task is pushed; an echo of what was just synced does nothing', async () => {
    await full();
    const id = await send('writer');
    expect(await fast('local', [inbox(id, 'writer')])).toMatchObject({ kind: 'done', pushed: 1 });
    expect(await read(far, inbox(id, 'writer'))).toBe(await read(hub, inbox(id, 'writer')));
    // the far watcher reports the file just written there: nothing to do
    expect(await fast('remote', [inbox(id, 'writer')])).toEqual({
      kind: 'done',
      pushed: 0,
      pulled: 0,
      deleted: 0,
      tasks: 0,
    });
    await nothingLeft();
  });

  it('declines, changing nothing, whenever the full reconcile has something to decide', async () => {
    const a = await send();
    const b = await send();
    const c = await send();
    await full();
    const before = async () => ({ hub: await locations(hub), far: await locations(far) });

    // both sides changed
    await writeFile(
      join(hub, inbox(a)),
      (await read(hub, inbox(a))).replace('priority: normal', 'priority: high'),
    );
    expect((await cli(far, ['ack', a])).code).toBe(0);
    const farA = await read(far, inbox(a));
    expect(await fast('local', [inbox(a)])).toMatchObject({ kind: 'full' });
    expect(await read(far, inbox(a))).toBe(farA);

    // deleted on the changed side
    const snapshot = await before();
    await unlink(join(hub, inbox(b)));
    expect(await fast('local', [inbox(b)])).toMatchObject({ kind: 'full' });
    expect((await locations(far)).get(b)).toEqual(snapshot.far.get(b));

    // moved on the other side since the last sync
    await rename(join(far, inbox(c)), join(far, `agents/writer/inbox/${c}.md`));
    await writeFile(
      join(hub, inbox(c)),
      (await read(hub, inbox(c))).replace('priority: normal', 'priority: low'),
    );
    expect(await fast('local', [inbox(c)])).toMatchObject({ kind: 'full' });
    expect((await locations(far)).get(c)).toEqual(['writer/inbox']);

    // not a task file; not this host's agent
    expect(await fast('local', ['agents/research/AGENT.md'])).toMatchObject({ kind: 'full' });
    expect(await fast('local', [inbox('x', 'dispatch')])).toMatchObject({ kind: 'full' });
    // a hostile path is never stat'ed or used: a full pass (which checks every name) decides
    expect(await fast('remote', ['agents/../../etc/passwd'])).toMatchObject({ kind: 'full' });
    // a folder (a box, a result folder that came and went) is no change by itself
    expect(await fast('local', ['agents/research/inbox', `agents/research/outbox/${a}.files`])).toEqual({
      kind: 'done',
      pushed: 0,
      pulled: 0,
      deleted: 0,
      tasks: 0,
    });
    // a temp file of a write in progress is no change at all
    expect(await fast('local', [`agents/research/inbox/.${a}.md.tmp-1-ab`])).toEqual({
      kind: 'done',
      pushed: 0,
      pulled: 0,
      deleted: 0,
      tasks: 0,
    });
  });

  it('decides with the same reconcile as a full pass: an edit here and a move there is one take', async () => {
    const id = await send();
    await full();
    // The far side moved the task within its agent's boxes; the hub edited it where it was.
    await rename(join(far, inbox(id)), join(far, `agents/research/archive/${id}.md`));
    const edited = (await read(hub, inbox(id))).replace('priority: normal', 'priority: high');
    await writeFile(join(hub, inbox(id)), edited);
    expect(await fast('local', [inbox(id)])).toMatchObject({ kind: 'done', pushed: 1 });
    // Content from the hub, place from the far side, on both: what the full pass would have done.
    expect((await locations(hub)).get(id)).toEqual(['research/archive']);
    expect((await locations(far)).get(id)).toEqual(['research/archive']);
    expect(await read(far, `agents/research/archive/${id}.md`)).toBe(edited);
    await nothingLeft();
  });

  it('leaves a take the other way to the full pass (the reported side holds the base)', async () => {
    const id = await send();
    await full();
    const farBefore = await read(far, inbox(id));
    // The hub's watcher reports the file, but only the far side changed it.
    expect((await cli(far, ['ack', id])).code).toBe(0);
    const acked = await read(far, inbox(id));
    const r = await fast('local', [inbox(id)]);
    expect(r).toMatchObject({ kind: 'full', reason: expect.stringMatching(/a take from remote/) });
    expect(await read(far, inbox(id))).toBe(acked);
    expect(acked).not.toBe(farBefore);
    expect(await read(hub, inbox(id))).toMatch(/state: queued/);
  });

  it('declines a new id that the other side already holds, and before the first full pass', async () => {
    const id = await send();
    expect(await fast('local', [inbox(id)])).toMatchObject({ kind: 'full', reason: 'no sync yet' });
    await full();
    const twin = await send('writer');
    await writeFile(join(far, inbox(twin)), await read(hub, inbox(twin, 'writer')));
    expect(await fast('local', [inbox(twin, 'writer')])).toMatchObject({ kind: 'full' });
    expect((await locations(far)).get(twin)).toEqual(['research/inbox']);
  });

  describe("a task that left the host's folders here (routed home, escalated)", () => {
    // What the daemon's route does: the task moves to an agent of this machine, edited on the way.
    const routeHome = async (id: string, to = 'dispatch') => {
      const text = await read(hub, inbox(id));
      await writeFile(
        join(hub, `agents/${to}/inbox/${id}.md`),
        text.replace('priority: normal', 'priority: low'),
      );
      await unlink(join(hub, inbox(id)));
    };

    it('removes the far copy at once, as the full pass would, when the far copy is what was synced', async () => {
      const id = await send();
      await full();
      await routeHome(id);
      expect(await fast('local', [inbox(id)])).toEqual({
        kind: 'done',
        pushed: 0,
        pulled: 0,
        deleted: 1,
        tasks: 1,
      });
      expect((await locations(far)).get(id)).toBeUndefined();
      expect((await locations(hub)).get(id)).toEqual(['dispatch/inbox']);
      await nothingLeft();
    });

    it('leaves it to the full pass when the far copy changed since (a fold), or this machine holds no copy, or two', async () => {
      const [a, b, c] = [await send(), await send(), await send()];
      await full();
      // changed there since the last sync: the full pass folds it into the copy here
      expect((await cli(far, ['ack', a])).code).toBe(0);
      const acked = await read(far, inbox(a));
      await routeHome(a);
      expect(await fast('local', [inbox(a)])).toMatchObject({ kind: 'full' });
      expect(await read(far, inbox(a))).toBe(acked);
      // gone from this machine outright: a delete, the full pass's (it guards against mass deletes)
      await unlink(join(hub, inbox(b)));
      expect(await fast('local', [inbox(b)])).toMatchObject({ kind: 'full' });
      expect((await locations(far)).get(b)).toEqual(['research/inbox']);
      // two copies here: which one is the task is not the fast path's to say
      await routeHome(c);
      await writeFile(
        join(hub, `agents/human/inbox/${c}.md`),
        await read(hub, `agents/dispatch/inbox/${c}.md`),
      );
      expect(await fast('local', [inbox(c)])).toMatchObject({ kind: 'full' });
      expect((await locations(far)).get(c)).toEqual(['research/inbox']);
    });

    it('leaves a task with a result folder to the full pass, which removes the folder with it', async () => {
      const id = await send();
      await mkdir(join(hub, `agents/research/inbox/${id}.files`));
      await writeFile(join(hub, `agents/research/inbox/${id}.files/notes.txt`), 'findings\n');
      await full();
      expect(await read(far, `agents/research/inbox/${id}.files/notes.txt`)).toBe('findings\n');
      await routeHome(id);
      expect(await fast('local', [inbox(id)])).toMatchObject({ kind: 'full', reason: /result files/ });
      expect((await locations(far)).get(id)).toEqual(['research/inbox']);
    });
  });
});
