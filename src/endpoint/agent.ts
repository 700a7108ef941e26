// The Endpoint contract through a far mailroom agent (`mailroom serve`, src/remote/): every call is
// one request of the batched protocol, and the far side runs it with its local endpoint, so its
// rules (atomic writes, links never followed, locks) are the local endpoint's. On top, the far side
// scans itself (scan) and runs the conditional writes of apply in one request each (putIf,
// removeIf). Everything that comes back is checked here before use: shapes and sizes by the
// protocol's schemas, and every name before a path is built from it. A reply that fails a check
// ends the channel (the pass stops with an error naming the host).

import type { z } from 'zod';
import { MailroomError, networkError, usageError } from '../errors.js';
import type { AgentClient } from '../remote/client.js';
import type { ManifestCopy } from '../remote/manifest-copy.js';
import { applyDelta, checkDelta, isGeneration, type ManifestDelta } from '../remote/manifest-delta.js';
import {
  agentPath,
  BytesSchema,
  checkManifest,
  checkMerged,
  ListSchema,
  LockSchema,
  MAX_FILE_BYTES,
  type Manifest,
  OutcomeSchema,
  StatSchema,
  taskPathOk,
  taskShapeOk,
} from '../remote/protocol.js';
import { TooBigError } from '../store/read-file.js';
import type { SideScan } from '../sync/scan.js';
import type { Outcome } from './conditional.js';
import type { Endpoint, EntryStat, LockOptions, ReadLimit, ReleaseLock } from './endpoint.js';
import { joinRel, parseRelPath } from './rel-path.js';

/** A name a directory listing can never honestly return. */
const impossibleName = (n: string) =>
  n === '' || n === '.' || n === '..' || n.includes('/') || n.includes('\0');

/**
 * What of a merged manifest came from the hub's kept copy, whose names passed the checks when it was
 * kept (for the same agents): its paths, and its task pairs the change did not set again. Looked up
 * where they are (a one-shot pass copied 10,000 paths and pairs into the checked sets first: ~15 ms).
 */
interface Trusted {
  path(path: string): boolean;
  task(id: string): boolean;
}

export class AgentEndpoint implements Endpoint {
  readonly parallelism = 512;

  constructor(
    private readonly client: AgentClient,
    readonly label: string,
    private readonly host: string,
    /** The hub's copy of the last manifest: with it, the far side sends only what changed. */
    private readonly copy?: ManifestCopy,
  ) {}

  get farVersion(): string {
    return this.client.farVersion;
  }

  // A reply of the wrong shape is the far side breaking the protocol, not a per-file problem.
  private check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    throw this.broken(`a malformed reply to ${what}`);
  }

  private broken(what: string): Error {
    const err = networkError(
      `${this.host}: the far mailroom broke the protocol (${what}); the pass stopped`,
      'check the far mailroom version (`mailroom --version` there)',
    );
    this.client.abort(err);
    return err;
  }

  private rel(rel: string, allowRoot = false): string {
    return joinRel(parseRelPath(rel, this.label, { allowRoot }));
  }

  async list(relDir: string): Promise<EntryStat[]> {
    const rel = this.rel(relDir, true);
    const entries = this.check(ListSchema, await this.client.call({ op: 'list', rel }), `list ${rel}`);
    const bad = entries.find((e) => impossibleName(e.name));
    if (bad) throw this.broken(`the name ${JSON.stringify(bad.name)} in a listing of ${rel || '/'}`);
    return entries;
  }

  async stat(relPath: string): Promise<EntryStat | undefined> {
    const rel = this.rel(relPath, true);
    const st = this.check(StatSchema, await this.client.call({ op: 'stat', rel }), `stat ${rel}`);
    return st ?? undefined;
  }

  /** With a limit, the far side refuses a bigger file without sending it; the size is checked here too. */
  async readFile(relPath: string, limit?: ReadLimit): Promise<Buffer> {
    const rel = this.rel(relPath);
    const request = limit
      ? { op: 'read' as const, rel, maxBytes: limit.maxBytes, limitKey: limit.limitKey ?? 'limits' }
      : { op: 'read' as const, rel };
    const b64 = this.check(BytesSchema, await this.client.call(request), `read ${rel}`);
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.length > MAX_FILE_BYTES) throw this.broken(`${rel} over the size cap`);
    if (limit && bytes.length > limit.maxBytes)
      throw new TooBigError(rel, bytes.length, limit.maxBytes, limit.limitKey ?? 'limits');
    return bytes;
  }

  private sizeOk(rel: string, data: Buffer): void {
    if (data.length > MAX_FILE_BYTES)
      throw usageError(
        `${this.label}: ${rel} is ${data.length} bytes, over the cap of ${MAX_FILE_BYTES}; not sent`,
      );
  }

  async writeFileAtomic(relPath: string, data: Buffer): Promise<void> {
    const rel = this.rel(relPath);
    this.sizeOk(rel, data);
    await this.client.call({ op: 'write', rel, data: data.toString('base64') });
  }

  async remove(relPath: string): Promise<void> {
    await this.client.call({ op: 'remove', rel: this.rel(relPath) });
  }

  async mkdirp(relPath: string): Promise<void> {
    await this.client.call({ op: 'mkdirp', rel: this.rel(relPath, true) });
  }

  async lock(relPath: string, opts?: LockOptions): Promise<ReleaseLock> {
    const rel = this.rel(relPath);
    const { lockId } = this.check(
      LockSchema,
      await this.client.call({
        op: 'lock',
        rel,
        ...(opts?.staleMs !== undefined ? { staleMs: opts.staleMs } : {}),
        ...(opts?.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      }),
      `lock ${rel}`,
    );
    return async () => {
      await this.client.call({ op: 'unlock', lockId });
    };
  }

  readonly createsIfAbsent = true;

  async putIf(
    relPath: string,
    data: Buffer,
    expect: string | undefined,
    rank?: number,
    absent?: readonly string[],
  ): Promise<Outcome> {
    const rel = this.rel(relPath);
    this.sizeOk(rel, data);
    const reply = await this.client.call({
      op: 'put',
      rel,
      data: data.toString('base64'),
      expect: expect ?? null,
      ...(rank !== undefined ? { rank } : {}),
      ...(absent && absent.length > 0 ? { absent: absent.map((p) => this.rel(p)) } : {}),
    });
    return this.check(OutcomeSchema, reply, `write ${rel}`);
  }

  async removeIf(relPath: string, expect: string): Promise<Outcome> {
    const rel = this.rel(relPath);
    return this.check(OutcomeSchema, await this.client.call({ op: 'drop', rel, expect }), `remove ${rel}`);
  }

  /**
   * The far side's scan, as the far agent last sent it unasked (its scan ahead between a daemon's
   * passes: `followAhead`), while no change was heard since; undefined when there is none.
   */
  private ready: { key: string; heard: number; scan: SideScan } | undefined;
  /** Pushes are taken one at a time, and a reply's handling waits for those that came before it. */
  private lane: Promise<unknown> = Promise.resolve();

  /** The far side's own scan of `agents`' folders, checked name by name. */
  async scan(agents: readonly string[]): Promise<SideScan> {
    await this.lane;
    const ready = this.ready;
    this.ready = undefined;
    if (ready && ready.key === agents.join('\n') && ready.heard === this.client.changesHeard)
      return ready.scan;
    // A copy kept for other agents (the configuration changed under a kept connection) is not used:
    // its names were checked against those.
    const copy = this.copy?.covers(agents) ? this.copy : undefined;
    const since = copy?.generation();
    const asked = this.client.call({ op: 'manifest', ...(since ? { since } : {}) });
    // Our copy is read while the far side scans (a change to it is the likely answer).
    if (since) void copy?.load(since).catch(() => {});
    const reply = await asked;
    await this.lane; // a push that came before the reply is taken first (the reply may build on it)
    this.ready = undefined; // that push, taken, is older than this reply
    const { manifest, generation, base, trusted } = await this.manifestOf(reply, since, agents, copy);
    const scan = this.toScan(manifest, agents, trusted);
    // Kept only once every name in it passed (toScan throws otherwise).
    if (generation !== undefined && generation !== base) copy?.keep(generation, manifest);
    return scan;
  }

  /**
   * Far changes under the agents' folders, as they happen (`onChanges`), and with `ahead` the far
   * agent's scans made ahead between passes, each the change since the manifest this side holds: the
   * next pass takes the last one instead of asking, unless a change was heard after it.
   */
  followAhead(agents: readonly string[]): (delta: unknown, heard: number) => void {
    return (raw, heard) => {
      this.ready = undefined;
      this.lane = this.lane
        .then(() => this.takeAhead(agents, raw, heard))
        // A push that breaks the protocol ends the channel, as a reply would (broken() aborts it).
        .catch((err: unknown) => void (err instanceof MailroomError || this.broken(String(err))));
    };
  }

  private async takeAhead(agents: readonly string[], raw: unknown, heard: number): Promise<void> {
    const delta = checkDelta(raw);
    if (!delta) throw this.broken('a malformed change to the manifest, sent ahead');
    const copy = this.copy?.covers(agents) ? this.copy : undefined;
    const since = copy?.generation();
    // Not a change to the copy held here (none, or another): the next pass asks, as it would have.
    if (!copy || since === undefined || delta.since !== since) return;
    const prev = await copy.load(since);
    if (!prev) return;
    const { manifest, trusted } = this.merge(prev, delta);
    const scan = this.toScan(manifest, agents, trusted);
    if (delta.generation !== since) copy.keep(delta.generation, manifest);
    this.ready = { key: agents.join('\n'), heard, scan };
  }

  /** Our copy `prev` with the far side's change applied, checked, and what of it is trusted. */
  private merge(prev: Manifest, delta: ManifestDelta): { manifest: Manifest; trusted: Trusted } {
    const merged = checkMerged(applyDelta(prev, delta), delta);
    if (!merged) throw this.broken('a change to the manifest that breaks its bounds');
    // What came from our copy passed the checks when it was kept: its paths, and its task pairs
    // the change did not set again.
    const changedIds = new Set(delta.tasks.map(([id]) => id));
    return {
      manifest: merged,
      trusted: {
        path: (path) => Object.hasOwn(prev.records, path),
        task: (id) => !changedIds.has(id),
      },
    };
  }

  /** The manifest a reply gives: whole, or our copy with the change applied (manifest-delta.ts). */
  private async manifestOf(
    reply: unknown,
    since: string | undefined,
    agents: readonly string[],
    copy: ManifestCopy | undefined,
  ): Promise<{ manifest: Manifest; generation?: string; base?: string; trusted?: Trusted }> {
    if (typeof reply === 'object' && reply !== null && 'delta' in reply) {
      const delta = checkDelta(reply.delta);
      if (!delta || since === undefined) throw this.broken('a malformed change to the manifest');
      // The change is to what we asked with, or to what a push since moved our copy on to.
      const held = copy?.generation();
      const prev = delta.since === since || delta.since === held ? await copy?.load(delta.since) : undefined;
      if (!prev) {
        // Our copy went missing since the hello named it, or the change is to a copy we do not
        // hold: the whole manifest, once more.
        return this.manifestOf(await this.client.call({ op: 'manifest' }), undefined, agents, copy);
      }
      return { ...this.merge(prev, delta), generation: delta.generation, base: delta.since };
    }
    const m = checkManifest(reply);
    if (!m) throw this.broken('a malformed reply to the manifest');
    const generation = (reply as { generation?: unknown }).generation;
    const { records, tasks, files, problems, reads } = m;
    return {
      manifest: { records, tasks, files, problems, reads },
      ...(isGeneration(generation) ? { generation } : {}),
    };
  }

  /**
   * Paths (and task id + path pairs) of earlier manifests that passed the checks, for the agents
   * they were checked against: a daemon's every pass receives the same 10,000 paths, and checking
   * each again was a third of the hub's CPU for a pass that found nothing to do.
   */
  private checked: { agents: string; paths: Set<string>; tasks: Map<string, string> } | undefined;

  private checkedFor(agents: readonly string[]) {
    const key = agents.join('\n');
    if (this.checked?.agents !== key || this.checked.paths.size > 1_000_000)
      this.checked = { agents: key, paths: new Set(), tasks: new Map() };
    return this.checked;
  }

  /**
   * The manifest as a scan, every name checked. It keeps no scan cache on this side (the far agent
   * keeps its own, and the pass keeps no far records then: sync/pass.ts adoptScans): the records are
   * read where they are, and sizes given by `sizeOf` (10,000 record objects made here only to be
   * dropped cost a one-shot pass ~50 ms after the far reply).
   */
  private toScan(m: Manifest, agents: readonly string[], trusted?: Trusted): SideScan {
    const checked = this.checkedFor(agents);
    const { records } = m;
    const known = (path: string) => checked.paths.has(path) || trusted?.path(path) === true;
    // Own keys only (Object.keys, Object.hasOwn): a `__proto__` key must never bring inherited ones along.
    for (const path of Object.keys(records)) {
      if (known(path)) continue;
      if (!agentPath(path, agents)) throw this.broken(`the path ${JSON.stringify(path)} in the manifest`);
      checked.paths.add(path);
    }
    const recordAt = (path: string) => (Object.hasOwn(records, path) ? records[path] : undefined);
    const tasks: SideScan['tasks'] = new Map();
    for (const [id, path] of m.tasks) {
      const r = recordAt(path);
      let shaped = trusted?.task(id) === true || checked.tasks.get(id) === path;
      // A path among the records passed agentPath above: only its shape is left to check.
      if (!shaped && (known(path) ? taskShapeOk(id, path) : taskPathOk(id, path, agents))) {
        checked.tasks.set(id, path);
        shaped = true;
      }
      const rank = r?.[3];
      if (!shaped || r === undefined || rank === null || rank === undefined || tasks.has(id))
        throw this.broken(`the task ${JSON.stringify(id)} at ${JSON.stringify(path)} in the manifest`);
      // agents/<agent>/<box>/<id>.md (checked above): the location is what lies between.
      tasks.set(id, { id, loc: path.slice(7, path.lastIndexOf('/')), path, hash: r[2], rank });
    }
    const files: SideScan['files'] = new Map();
    for (const path of m.files) {
      const r = recordAt(path);
      if (!r || files.has(path)) throw this.broken(`the file ${JSON.stringify(path)} in the manifest`);
      files.set(path, { hash: r[2] });
    }
    return {
      tasks,
      files,
      cache: {},
      sizeOf: (path) => recordAt(path)?.[0],
      problems: m.problems,
      reads: m.reads,
      skipped: new Set(),
    };
  }

  /**
   * Far changes under the agents' folders; paths not of that shape are dropped. With `ahead`, the
   * far agent's scans made between passes come too, and the next pass may take one (followAhead).
   */
  onChanges(
    agents: readonly string[],
    listener: (paths: string[]) => void,
    opts: { ahead?: boolean } = {},
  ): Promise<() => void> {
    return this.client.onChanges(
      (paths) => {
        const ok = paths.filter((p) => agentPath(p, agents));
        if (ok.length > 0) listener(ok);
      },
      opts.ahead ? this.followAhead(agents) : undefined,
    );
  }

  async close(): Promise<void> {
    this.client.close();
    await this.copy?.settled();
  }
}
