// The far agent's scan cache and its last manifest sent, kept in one state file: a later agent
// answers a hub that holds that manifest with the change since, reading no file again; records set
// after the reply are kept; a broken file costs reads and a whole manifest, never a wrong record.
// And the cut of a cache path into the task id and location its scan expects to find again (it
// replaced a split('/') per path, 10,000 per manifest; the cases hold it to what that gave).

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localEndpoint } from '../../src/endpoint/local.js';
import { isTaskId } from '../../src/names.js';
import {
  FarScanner,
  farCacheOf,
  type ManifestReply,
  parseState,
  stateText,
  taskLocOf,
} from '../../src/remote/far-scan.js';
import { taskText } from '../../torture/support.js';

/** The rule as it was written before, with split. */
function bySplit(path: string): [string, string] | undefined {
  const parts = path.split('/');
  if (parts[0] !== 'agents' || parts.length !== 4 || !parts[3]!.endsWith('.md')) return undefined;
  const id = parts[3]!.slice(0, -3);
  return isTaskId(id) ? [id, `${parts[1]}/${parts[2]}`] : undefined;
}

const ID = '20260101-000000-000a';

describe('taskLocOf', () => {
  it('gives the id and agent/box of a task path', () => {
    expect(taskLocOf(`agents/a03/inbox/${ID}.md`)).toEqual([ID, 'a03/inbox']);
    expect(taskLocOf(`agents/worker-1/outbox/${ID}.md`)).toEqual([ID, 'worker-1/outbox']);
  });

  it('refuses what is not a task path, as split did', () => {
    const paths = [
      `agents/a03/inbox/${ID}.md`,
      `agents/a03/${ID}.md`,
      `agents/a03/inbox/sub/${ID}.md`,
      `agents/a03/inbox/${ID}.txt`,
      'agents/a03/AGENT.md',
      'agents/a03/inbox/notes.md',
      `other/a03/inbox/${ID}.md`,
      `agents//inbox/${ID}.md`,
      `agents/a03//${ID}.md`,
      `agents/a03/inbox/${ID}.md/`,
      `agentsX/a03/inbox/${ID}.md`,
      'agents/',
      '',
      `agents/a03/inbox/.md`,
    ];
    for (const p of paths) expect(taskLocOf(p), p).toEqual(bySplit(p));
    expect(taskLocOf(`agents/a03/${ID}.md`)).toBeUndefined();
    expect(taskLocOf(`agents/a03/inbox/sub/${ID}.md`)).toBeUndefined();
    expect(taskLocOf(`other/a03/inbox/${ID}.md`)).toBeUndefined();
  });
});

describe('the far agent state file', () => {
  const ids = ['20260101-000000-000a', '20260101-000000-000b', '20260101-000000-000c'];
  let root: string;
  const rel = (id: string) => `agents/a1/inbox/${id}.md`;
  const stateFile = () => join(root, '.mailroom/agent-state.json');

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'far-scan-'));
    await mkdir(join(root, 'agents/a1/inbox'), { recursive: true });
    // Settled files (the racy rule re-reads files written moments before a scan).
    const old = new Date(Date.now() - 60_000);
    for (const id of ids) {
      await writeFile(join(root, rel(id)), taskText({ id, from: 'hub', to: 'a1' }, `body of ${id}`));
      await utimes(join(root, rel(id)), old, old);
    }
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  /** A scanner as a fresh far agent process makes it; the reply, then its state file written. */
  async function replyOnce(since?: string): Promise<ManifestReply> {
    const scanner = new FarScanner(localEndpoint(root));
    const r = await scanner.reply(['a1'], since);
    await scanner.settled();
    return r;
  }
  const generationOf = (r: ManifestReply) => ('delta' in r ? r.delta.generation : r.generation);

  /**
   * A far agent that replied to a hub holding `since`, then wrote a new task for it as serve.ts does
   * for a put: the record dropped, the file written with a settled mtime, recorded.
   */
  async function writtenAfterReply(since: string) {
    const scanner = new FarScanner(localEndpoint(root));
    await scanner.reply(['a1'], since);
    const id = '20260101-000000-000d';
    const bytes = Buffer.from(taskText({ id, from: 'hub', to: 'a1' }, 'new'));
    scanner.forget(rel(id));
    const mtimeMs = Date.now() - 60_000;
    await writeFile(join(root, rel(id)), bytes);
    await utimes(join(root, rel(id)), mtimeMs / 1000, mtimeMs / 1000);
    await scanner.remember(rel(id), bytes, mtimeMs);
    return { scanner, id };
  }

  it('a later agent answers from it: the change since the manifest sent, with nothing read again', async () => {
    const first = await replyOnce();
    expect('delta' in first).toBe(false);
    if ('delta' in first) return;
    expect(first.reads).toBe(3);
    const second = await replyOnce(first.generation);
    expect('delta' in second && second.delta).toMatchObject({
      since: first.generation,
      generation: first.generation, // nothing changed: the generation stays
      records: {},
      gone: [],
      reads: 0,
    });
    // A generation this side never sent: the whole manifest, still without a read.
    const other = await replyOnce('not-this-one');
    expect('delta' in other).toBe(false);
    if (!('delta' in other)) expect(other.reads).toBe(0);
  });

  it("is written once, as the agent ends: not right after the reply, when the hub's puts come", async () => {
    const scanner = new FarScanner(localEndpoint(root));
    await scanner.reply(['a1'], undefined);
    await new Promise((r) => setImmediate(() => setImmediate(r)));
    expect(scanner.stateHeld).toBe(true);
    expect(existsSync(stateFile())).toBe(false);
    await scanner.settled(); // serve.ts, as the hub hangs up
    expect(scanner.stateHeld).toBe(false);
    expect(Object.keys(farCacheOf(await readFile(stateFile(), 'utf8'))).sort()).toEqual(ids.map(rel).sort());
  });

  it('records set after the reply (files it wrote) are kept as changed: not read again, sent as a change', async () => {
    const first = await replyOnce();
    const { scanner, id } = await writtenAfterReply(generationOf(first));
    expect(scanner.unsaved).toBe(true);
    await scanner.save();
    expect(Object.keys(farCacheOf(await readFile(stateFile(), 'utf8'))).sort()).toEqual(
      [...ids, id].map(rel).sort(),
    );

    const next = await replyOnce(generationOf(first));
    if (!('delta' in next)) throw new Error('expected a change');
    expect(next.delta.reads).toBe(0); // the written file's record came from the state file
    expect(Object.keys(next.delta.records)).toEqual([rel(id)]);
    expect(next.delta.tasks).toEqual([[id, rel(id)]]);
  });

  it('a state file that does not read back costs reads, never a wrong record', async () => {
    const first = await replyOnce();
    const text = await readFile(stateFile(), 'utf8');
    expect(Object.keys(farCacheOf(text))).toHaveLength(3);
    for (const broken of [
      text.slice(0, -10),
      text.replace('"changed":{}', '"changed":{"agents/a1/inbox/x.md":[1,2]}'),
      text.replace('"changed":{}', '"changed":[]'),
      text.replace(/,"changed":\{\}\}$/, '}'),
    ]) {
      expect(parseState(broken), broken.slice(-60)).toBeUndefined();
      await writeFile(stateFile(), broken);
      const r = await replyOnce(generationOf(first));
      expect('delta' in r).toBe(false); // the whole manifest
      if (!('delta' in r)) expect(r.reads).toBe(3);
    }
    expect(
      parseState(stateText({ generation: 'g1', agents: 'a1', manifest: emptyManifest }, new Map())),
    ).toEqual({
      sent: { generation: 'g1', agents: 'a1', manifest: emptyManifest },
      changed: new Map(),
    });
  });

  it('a task moved while it lists the folders is looked for by name: one it sent, and one it wrote since', async () => {
    const first = await replyOnce();
    const { scanner, id } = await writtenAfterReply(generationOf(first));
    await scanner.save();
    // The outbox is listed before two tasks move there from the inbox, the inbox after: in neither.
    await mkdir(join(root, 'agents/a1/outbox'));
    const real = localEndpoint(root);
    const staleOutbox = await real.list('agents/a1/outbox');
    const moved = [ids[0]!, id];
    for (const m of moved) await rename(join(root, rel(m)), join(root, `agents/a1/outbox/${m}.md`));
    const racing = Object.create(real) as typeof real;
    racing.list = (dir) => (dir === 'agents/a1/outbox' ? Promise.resolve(staleOutbox) : real.list(dir));
    const r = await new FarScanner(racing).reply(['a1'], generationOf(first));
    if (!('delta' in r)) throw new Error('expected a change');
    expect(new Map(r.delta.tasks)).toEqual(new Map(moved.map((m) => [m, `agents/a1/outbox/${m}.md`])));
  });

  it("an older agent's scan cache is used once, then its two files are replaced by the state file", async () => {
    await replyOnce();
    const cache = farCacheOf(await readFile(stateFile(), 'utf8'));
    await rm(stateFile());
    await writeFile(join(root, '.mailroom/agent-scan.json'), JSON.stringify(cache));
    await writeFile(join(root, '.mailroom/agent-manifest.json'), '{}');
    const r = await replyOnce('whatever');
    expect('delta' in r).toBe(false);
    if (!('delta' in r)) expect(r.reads).toBe(0);
    expect((await readdir(join(root, '.mailroom'))).sort()).toEqual(['agent-state.json']);
  });
});

const emptyManifest = { records: {}, tasks: [], files: [], problems: [], reads: 0 };
