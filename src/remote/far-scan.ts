// The far agent's scan: the same scanSide the hub runs on its own folder, run on the far machine
// against its own files, with its own scan cache (kept in <root>/.mailroom/agent-scan.json), so the
// hub never reads a far file to hash it. The reply is the manifest: every file's scan record, which
// of them are tasks, and the problems the scan found.

import type { Endpoint } from '../endpoint/endpoint.js';
import { isTaskId } from '../names.js';
import { newGenerationId } from '../random-hex.js';
import { recordOfWritten, type SideCache, type SideRecord, scanSide } from '../sync/scan.js';
import { type KeptManifest, keptText, parseKept } from './manifest-copy.js';
import { type ManifestDelta, manifestDelta } from './manifest-delta.js';
import type { Manifest } from './protocol.js';
import { WriteBehind } from './write-behind.js';

const CACHE_FILE = '.mailroom/agent-scan.json';
/** The manifest last sent to a hub, under its generation (manifest-delta.ts). */
const SENT_FILE = '.mailroom/agent-manifest.json';

/** A manifest reply: the whole manifest under a new generation, or the change since `since`. */
export type ManifestReply = (Manifest & { generation: string }) | { delta: ManifestDelta };

export class FarScanner {
  private cache: SideCache | undefined;
  /** Records were added since the cache file was last written. */
  private dirty = false;

  /** What the last manifest reply described, once loaded or sent. */
  private sent: KeptManifest | undefined;
  /** The write of SENT_FILE (awaited before the agent exits). */
  private readonly keeping = new WriteBehind();

  constructor(private readonly ep: Endpoint) {}

  /**
   * A manifest reply for a hub that holds the generation `since` (if any): the change since then
   * when this side sent that generation last, else the whole manifest. A change of nothing keeps
   * the generation (and writes no file on either side).
   */
  async reply(agents: readonly string[], since: string | undefined): Promise<ManifestReply> {
    const next = await this.manifest(agents);
    const key = agents.join('\n');
    const prev = since === undefined ? undefined : await this.loadSent();
    if (prev && prev.generation === since && prev.agents === key) {
      const generation = newGenerationId();
      const { delta, unchanged } = manifestDelta(prev.manifest, next, since, generation);
      if (unchanged) delta.generation = since;
      else this.keepSent({ generation, agents: key, manifest: next });
      return { delta };
    }
    const generation = newGenerationId();
    this.keepSent({ generation, agents: key, manifest: next });
    return { ...next, generation };
  }

  private async loadSent(): Promise<KeptManifest | undefined> {
    // Our own file; none, or anything odd in it, only costs a whole manifest.
    this.sent ??= parseKept(await this.ep.readFile(SENT_FILE).then(String, () => ''));
    return this.sent;
  }

  /**
   * Held in memory at once (a daemon's next pass asks this process) and written in the background
   * for a later process: written or not, the hub's next `since` either matches it or gets the whole
   * manifest, so the order against the reply does not matter.
   */
  private keepSent(sent: KeptManifest): void {
    this.sent = sent;
    // After the reply has gone out: 2.2 MB of JSON at 10,000 tasks, in the hub copy's format.
    this.keeping.schedule(() => this.ep.writeFileAtomic(SENT_FILE, Buffer.from(keptText(sent))));
  }

  /** Waits for the write of the last manifest sent, if one is under way. */
  settled(): Promise<void> {
    return this.keeping.settled();
  }

  private async load(): Promise<SideCache> {
    if (this.cache) return this.cache;
    try {
      const data: unknown = JSON.parse((await this.ep.readFile(CACHE_FILE)).toString('utf8'));
      // Our own file; anything odd in it only costs a re-read.
      this.cache = data && typeof data === 'object' ? (data as SideCache) : {};
    } catch {
      this.cache = {};
    }
    return this.cache;
  }

  async manifest(agents: readonly string[]): Promise<Manifest> {
    const prev = await this.load();
    // The tasks the last scan saw stand in for the hub's `expect`: one moved between two listings
    // is looked for again by name.
    const expect = new Map<string, string>();
    for (const path of Object.keys(prev)) {
      const loc = taskLocOf(path);
      if (loc) expect.set(loc[0], loc[1]);
    }
    const scan = await scanSide(this.ep, agents, prev, {
      reportForeignAgents: true,
      clockMs: Date.now(),
      expect,
    });
    this.cache = scan.cache;
    if (scan.reads > 0 || this.dirty) await this.save();
    const records: Manifest['records'] = {};
    for (const [path, r] of Object.entries(scan.cache))
      records[path] = [r.size, r.mtimeMs, r.hash, r.rank ?? null, r.checkedAt];
    return {
      records,
      tasks: [...scan.tasks.values()].map((t) => [t.id, t.path]),
      files: [...scan.files.keys()],
      problems: scan.problems,
      reads: scan.reads,
    };
  }

  /** A file this agent is about to write: its record is dropped, so the next scan hashes it afresh. */
  forget(path: string): void {
    if (this.cache) delete this.cache[path];
  }

  /**
   * A file this agent wrote with `mtimeMs` set (settledMtime): recorded, so the next manifest does
   * not read it again, if it still has that mtime and size (a later write stamps "now").
   */
  async remember(path: string, bytes: Buffer, mtimeMs: number, rank?: number): Promise<void> {
    const record = recordOfWritten(path, bytes, await this.ep.stat(path), mtimeMs, Date.now(), rank);
    if (!record) return;
    (await this.load())[path] = record;
    this.dirty = true;
  }

  /** Writes the cache file if records were added since (best effort: a lost cache only costs reads). */
  async save(): Promise<void> {
    if (!this.cache) return;
    this.dirty = false;
    await this.ep.writeFileAtomic(CACHE_FILE, Buffer.from(JSON.stringify(this.cache))).catch(() => {});
  }

  get unsaved(): boolean {
    return this.dirty;
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

export const recordOf = (r: Manifest['records'][string]): SideRecord => ({
  size: r[0],
  mtimeMs: r[1],
  hash: r[2],
  ...(r[3] === null ? {} : { rank: r[3] }),
  checkedAt: r[4],
});
