// The far agent's scan: the same scanSide the hub runs on its own folder, run on the far machine
// against its own files, with its own scan cache, so the hub never reads a far file to hash it. The
// reply is the manifest: every file's scan record, which of them are tasks, and the problems the scan
// found; or, to a hub that holds the last one sent, what changed since (manifest-delta.ts).
//
// One file keeps both, <root>/.mailroom/agent-state.json: the manifest last sent (its generation,
// agents and records, in the format the hub keeps its copy in: manifest-copy.ts) and `changed`, the
// records this agent set since that reply (files it wrote for the hub: `remember`) or dropped (files
// it is about to write or remove: `forget`). The scan cache is the sent records with `changed` laid
// over them. A one-shot sync starts a fresh far agent, and reading its cache and its copy of the sent
// manifest from two files parsed the same 10,000 records twice (~50 ms at 10,000 tasks, before the
// reply). Every record in the cache is only a hint checked against the file's stamp (scan.ts), so a
// lost or old file costs reads, never a wrong hash; a file that does not read back (or an older
// agent's two files) costs one whole manifest and, without the old cache, one read of every file.

import type { Endpoint, EntryStat } from '../endpoint/endpoint.js';
import { isTaskId } from '../names.js';
import { newGenerationId } from '../random-hex.js';
import { recordOfWritten, type SideCache, type SideRecord, scanSide } from '../sync/scan.js';
import { twoTurns, type WatchedListings } from '../sync/watched-listings.js';
import { type KeptManifest, keptOf } from './manifest-copy.js';
import { type ManifestDelta, manifestDelta } from './manifest-delta.js';
import type { Manifest, ManifestRecord } from './protocol.js';
import { KEPT_WRITE_EVERY_MS, WriteBehind } from './write-behind.js';

const STATE_FILE = '.mailroom/agent-state.json';
/** An older agent's scan cache: read when there is no state file yet (no read of every file after an upgrade). */
const OLD_CACHE_FILE = '.mailroom/agent-scan.json';
const OLD_SENT_FILE = '.mailroom/agent-manifest.json';

/** A manifest reply: the whole manifest under a new generation, or the change since `since`. */
export type ManifestReply = (Manifest & { generation: string }) | { delta: ManifestDelta };

/** Records set (or dropped: null) since the manifest was sent. */
type Changed = Map<string, ManifestRecord | null>;

/** The state file's text: the sent manifest in the kept format (generation first), then `changed`. */
export function stateText(sent: KeptManifest, changed: Changed): string {
  const { generation, agents, manifest } = sent;
  return JSON.stringify({ generation, agents, manifest, changed: Object.fromEntries(changed) });
}

/** The state file read back: the sent manifest (checked) and what changed since, or undefined. */
export function parseState(text: string): { sent: KeptManifest; changed: Changed } | undefined {
  let data: { changed?: unknown };
  try {
    data = JSON.parse(text) as { changed?: unknown };
  } catch {
    return undefined;
  }
  const sent = keptOf(data);
  const raw = data?.changed;
  if (!sent || typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const changed: Changed = new Map();
  for (const [path, r] of Object.entries(raw)) {
    if (r !== null && !isRecordShape(r)) return undefined;
    changed.set(path, r);
  }
  return { sent, changed };
}

/**
 * The manifest record each scan record was made from or turned into. Records are never edited (a
 * scan makes a new one for a file that changed), so a scan record still in the cache gives the same
 * manifest record: the next manifest reuses it, and its change from the last one sent is found by
 * identity (at 10,000 tasks, 10,000 arrays made and compared field by field at every reply).
 */
const manifestRecords = new WeakMap<SideRecord, ManifestRecord>();

/** The scan cache a state describes: the sent records with the changed ones laid over them. */
function cacheOf(state: { sent: KeptManifest; changed: Changed }): SideCache {
  const cache: SideCache = {};
  const take = (r: ManifestRecord): SideRecord => {
    const record = recordOf(r);
    manifestRecords.set(record, r);
    return record;
  };
  const records = state.sent.manifest.records;
  for (const path of Object.keys(records)) cache[path] = take(records[path]!);
  for (const [path, r] of state.changed) {
    if (r === null) delete cache[path];
    else cache[path] = take(r);
  }
  return cache;
}

/** The scan cache a state file's text holds; empty for anything else (tests, diagnostics). */
export function farCacheOf(text: string): SideCache {
  const state = parseState(text);
  return state ? cacheOf(state) : {};
}

const isRecordShape = (r: unknown): r is ManifestRecord =>
  Array.isArray(r) &&
  r.length === 5 &&
  typeof r[0] === 'number' &&
  typeof r[1] === 'number' &&
  typeof r[2] === 'string' &&
  (r[3] === null || typeof r[3] === 'number') &&
  typeof r[4] === 'number';

export class FarScanner {
  private cache: SideCache | undefined;
  /** What the last manifest reply described (loaded or sent), and the records set since. */
  private sent: KeptManifest | undefined;
  private changed: Changed = new Map();
  /** Records were added since the state file was last written. */
  private dirty = false;
  private loading: Promise<void> | undefined;
  /** The state file's writes (awaited before the agent exits). */
  private readonly keeping = new WriteBehind();
  /** An older agent's files were read: removed once the state file is written. */
  private oldFiles = false;
  /** Set once this agent watches its folders (a daemon follows it): scans list only what changed. */
  watched: WatchedListings | undefined;
  /** A manifest scanned before the hub asked (scanAhead), and the watcher's count it is as of. */
  private ahead: { key: string; mark: number; manifest: Promise<Manifest> } | undefined;
  /** Generations a push moved `sent` on from since the hub's last request (pushAhead). */
  private readonly pushedOver = new Set<string>();
  private lane: Promise<unknown> = Promise.resolve();

  constructor(private readonly ep: Endpoint) {}

  /**
   * A manifest reply for a hub that holds the generation `since` (if any): the change since then
   * when this side sent that generation last, else the whole manifest. A change of nothing keeps
   * the generation (and writes no file on either side).
   */
  async reply(agents: readonly string[], since: string | undefined): Promise<ManifestReply> {
    return this.serial(async () => {
      const key = agents.join('\n');
      // A hub that named a generation a push has since moved on from gets the change since the push:
      // the push was written to the channel before this reply, so the hub holds it by then.
      const base = since !== undefined && this.pushedOver.has(since) ? this.sent?.generation : since;
      this.pushedOver.clear();
      const next = (await this.takeAhead(key, true)) ?? (await this.manifest(agents));
      return this.answer(key, base, next);
    });
  }

  /**
   * The change since the manifest last sent, from a scan made ahead that still holds, for the hub
   * that asked to be sent it unasked (a daemon's: serve.ts); undefined when there is none to send.
   * The scan stays for a request that crossed the push on the way.
   */
  pushAhead(agents: readonly string[]): Promise<ManifestDelta | undefined> {
    return this.serial(async () => {
      const key = agents.join('\n');
      const since = this.sent?.generation;
      if (since === undefined || this.sent?.agents !== key) return undefined;
      const next = await this.takeAhead(key, false);
      if (!next) return undefined;
      const r = this.answer(key, since, next);
      if (!('delta' in r)) return undefined;
      if (r.delta.generation !== since) this.pushedOver.add(since);
      return r.delta;
    });
  }

  /** One reply or push at a time: each moves `sent` on from what the one before left. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lane.then(work);
    this.lane = run.catch(() => {});
    return run;
  }

  /** The reply for a hub holding `since`, given the manifest now (`next`). */
  private answer(key: string, since: string | undefined, next: Manifest): ManifestReply {
    const prev = since === undefined ? undefined : this.sent;
    if (prev && prev.generation === since && prev.agents === key) {
      const generation = newGenerationId();
      const { delta, unchanged } = manifestDelta(prev.manifest, next, since, generation);
      if (!unchanged) this.keepSent({ generation, agents: key, manifest: next });
      else {
        delta.generation = since;
        // The scan found every file as sent: records set since then describe files no longer so.
        if (this.changed.size > 0) this.keepSent(prev);
      }
      return { delta };
    }
    const generation = newGenerationId();
    this.keepSent({ generation, agents: key, manifest: next });
    return { ...next, generation };
  }

  /**
   * Held in memory at once (a daemon's next pass asks this process) and written in the background
   * for a later process: written or not, the hub's next `since` either matches it or gets the whole
   * manifest, so the order against the reply does not matter.
   */
  private keepSent(sent: KeptManifest): void {
    this.sent = sent;
    this.changed = new Map();
    this.dirty = false;
    this.schedule();
  }

  /**
   * Held, not written after each reply: 2.2 MB of JSON at 10,000 tasks, and its fsync. A one-shot
   * sync's far agent wrote it right after the manifest, as the hub's puts arrived (their fsyncs
   * queued behind it), then again as it ended; an agent a daemon follows answers many passes a
   * minute. The file, for a later process, is written when the agent ends (`settled`, as the hub
   * hangs up) and at most every KEPT_WRITE_EVERY_MS meanwhile. An agent killed before that loses
   * it: the next pass gets a whole manifest and hashes what changed, never a wrong record.
   */
  private schedule(): void {
    this.keeping.schedule(() => this.writeState(), KEPT_WRITE_EVERY_MS);
  }

  /** The state as it is when the write starts (the sent manifest and `changed` change together). */
  private async writeState(): Promise<void> {
    const sent = this.sent;
    if (!sent) return;
    await this.ep.writeFileAtomic(STATE_FILE, Buffer.from(stateText(sent, this.changed)));
    if (this.oldFiles) {
      this.oldFiles = false;
      for (const old of [OLD_CACHE_FILE, OLD_SENT_FILE]) await this.ep.remove(old).catch(() => {});
    }
  }

  /** Waits for the write of the state file (a held one is written at once), if one is under way. */
  settled(): Promise<void> {
    return this.keeping.settled();
  }

  private async load(): Promise<SideCache> {
    this.loading ??= this.read();
    await this.loading;
    return this.cache!;
  }

  private async read(): Promise<void> {
    // Our own file; none, or anything odd in it, only costs reads and a whole manifest.
    const state = parseState(await this.ep.readFile(STATE_FILE).then(String, () => ''));
    if (state) {
      this.sent = state.sent;
      this.changed = state.changed;
      this.cache = cacheOf(state);
      return;
    }
    try {
      const data: unknown = JSON.parse((await this.ep.readFile(OLD_CACHE_FILE)).toString('utf8'));
      this.cache = data && typeof data === 'object' ? (data as SideCache) : {};
      this.oldFiles = true;
    } catch {
      this.cache = {};
    }
  }

  /**
   * Scans now for the manifest the hub will ask for next, where a watcher vouches for the folders (a
   * daemon's far agent between two passes, once its folders are quiet): the reply is then what this
   * scan found, if the watcher heard of nothing since it began, and a fresh scan otherwise.
   */
  scanAhead(agents: readonly string[]): Promise<void> | undefined {
    const watched = this.watched;
    if (!watched?.isWatching) return undefined;
    const mark = watched.changes;
    const manifest = this.manifest(agents);
    this.ahead = { key: agents.join('\n'), mark, manifest };
    return manifest.then(
      () => {},
      () => {},
    );
  }

  /** scanAhead for the agents of the last manifest sent (an agent that stays, between connections). */
  scanAheadForLast(): Promise<void> | undefined {
    const agents = this.sent?.agents;
    return agents ? this.scanAhead(agents.split('\n')) : undefined;
  }

  /** The manifest scanned ahead for `key`, if nothing was heard of since it began; else undefined. */
  private async takeAhead(key: string, consume: boolean): Promise<Manifest | undefined> {
    const ahead = this.ahead;
    if (consume) this.ahead = undefined;
    const watched = this.watched;
    if (!ahead || !watched) return undefined;
    // Awaited whatever it was for: two scans must not take the watcher's rounds at once.
    const manifest = await ahead.manifest.catch(() => undefined);
    if (ahead.key !== key) return undefined;
    // The events of every write made before this request are read from the kernel's queue first.
    await twoTurns();
    return manifest && watched.changes === ahead.mark && watched.trusted ? manifest : undefined;
  }

  /**
   * Reads the state file and scans the agents its last manifest named, so that the next reply finds
   * the cache (and, watched, the listings) ready: what a far agent that stays does as it starts.
   */
  async warm(): Promise<void> {
    await this.load();
    const agents = this.sent?.agents;
    if (agents) await this.manifest(agents.split('\n'));
  }

  async manifest(agents: readonly string[]): Promise<Manifest> {
    const prev = await this.load();
    // The tasks the last scan saw stand in for the hub's `expect`: one moved between two listings
    // is looked for again by name. They are the sent manifest's tasks (id and path already apart:
    // no path of the cache is cut and no id tested, 30-50 ms at 10,000 tasks) and the tasks this
    // agent wrote since; from the cache's paths only without a state file (an older agent's cache).
    const expect = new Map<string, string>();
    const loose = this.sent ? this.changed.keys() : Object.keys(prev);
    for (const [id, path] of this.sent?.manifest.tasks ?? [])
      if (Object.hasOwn(prev, path)) expect.set(id, path.slice(7, path.lastIndexOf('/')));
    for (const path of loose) {
      const loc = Object.hasOwn(prev, path) ? taskLocOf(path) : undefined;
      if (loc) expect.set(loc[0], loc[1]);
    }
    const listings = await this.watched?.round(this.ep);
    const scan = await scanSide(this.ep, agents, prev, {
      reportForeignAgents: true,
      clockMs: Date.now(),
      expect,
      ...(listings ? { listings } : {}),
    });
    this.cache = scan.cache;
    return {
      records: recordsOf(scan.cache),
      tasks: [...scan.tasks.values()].map((t) => [t.id, t.path]),
      files: [...scan.files.keys()],
      problems: scan.problems,
      reads: scan.reads,
    };
  }

  /** A file this agent is about to write: its record is dropped, so the next scan hashes it afresh. */
  forget(path: string): void {
    if (this.cache && Object.hasOwn(this.cache, path)) {
      delete this.cache[path];
      this.changed.set(path, null);
    }
  }

  /**
   * A file this agent wrote with `mtimeMs` set (settledMtime): recorded, so the next manifest does
   * not read it again, if it still has that mtime and size (a later write stamps "now"). `seen`: its
   * stat as the write itself last saw it at its name (WriteOptions.seen); else it is looked at now.
   */
  async remember(
    path: string,
    bytes: Buffer,
    mtimeMs: number,
    rank?: number,
    seen?: EntryStat,
  ): Promise<void> {
    const stat = seen ?? (await this.ep.stat(path));
    const record = recordOfWritten(path, bytes, stat, mtimeMs, Date.now(), rank);
    if (!record) return;
    (await this.load())[path] = record;
    this.changed.set(path, manifestRecordOf(record));
    this.dirty = true;
  }

  /** Writes the state file if records were set since (best effort: a lost cache only costs reads). */
  async save(): Promise<void> {
    if (!this.cache || !this.dirty) return;
    this.dirty = false;
    // Records set before any reply (none was sent by this process or read back): kept as the
    // records of a manifest no hub holds (a fresh generation, no agents), so only the cache uses them.
    if (!this.sent) {
      this.sent = {
        generation: newGenerationId(),
        agents: '',
        manifest: { records: recordsOf(this.cache), tasks: [], files: [], problems: [], reads: 0 },
      };
      this.changed = new Map();
    }
    this.schedule();
    await this.keeping.settled(); // written now, followed by a daemon or not
  }

  get unsaved(): boolean {
    return this.dirty;
  }

  /** The state file's write is held for later (tests). */
  get stateHeld(): boolean {
    return this.keeping.holding;
  }
}

/**
 * `agents/<agent>/<box>/<id>.md` as [id, `<agent>/<box>`], else undefined: what `split('/')` would
 * give, cut with indexOf (run on every path of the cache at each manifest: 10,000 at a time).
 */
export function taskLocOf(path: string): [id: string, loc: string] | undefined {
  if (!path.startsWith('agents/') || !path.endsWith('.md')) return undefined;
  const agentEnd = path.indexOf('/', 7);
  const boxEnd = agentEnd < 0 ? -1 : path.indexOf('/', agentEnd + 1);
  if (boxEnd < 0 || path.indexOf('/', boxEnd + 1) >= 0) return undefined;
  const id = path.slice(boxEnd + 1, -3);
  return isTaskId(id) ? [id, path.slice(7, boxEnd)] : undefined;
}

const manifestRecordOf = (r: SideRecord): ManifestRecord => [
  r.size,
  r.mtimeMs,
  r.hash,
  r.rank ?? null,
  r.checkedAt,
];

/** A scan cache as a manifest's records (the inverse of cacheOf's recordOf). */
function recordsOf(cache: SideCache): Manifest['records'] {
  const records: Manifest['records'] = {};
  for (const path of Object.keys(cache)) {
    const r = cache[path]!;
    let m = manifestRecords.get(r);
    if (m === undefined) {
      m = manifestRecordOf(r);
      manifestRecords.set(r, m);
    }
    records[path] = m;
  }
  return records;
}

export const recordOf = (r: Manifest['records'][string]): SideRecord => ({
  size: r[0],
  mtimeMs: r[1],
  hash: r[2],
  ...(r[3] === null ? {} : { rank: r[3] }),
  checkedAt: r[4],
});
