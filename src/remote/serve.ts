// `mailroom serve`: the far side of the far-agent protocol, on the stdin/stdout of an exec channel
// the hub opened. It speaks only after the hub's hello, refuses another protocol version (naming the
// side to upgrade) and exits; then it answers batches of requests with batches of replies, through
// the same local endpoint and the same conditional write/remove the hub uses on its own files. With
// the hub's list of agents, nothing is written outside those agents' folders. Backpressure: stdin is
// paused while too many requests are in hand or stdout wants a pause. Locks it holds are released
// when the channel ends (and proper-lockfile's staleness covers a crash).

import type { Readable, Writable } from 'node:stream';
import { putIfHolds, removeIfHolds } from '../endpoint/conditional.js';
import type { Endpoint, EntryStat, ReleaseLock } from '../endpoint/endpoint.js';
import { MailroomError, refused } from '../errors.js';
import { settledMtime } from '../sync/scan.js';
import { WatchedListings } from '../sync/watched-listings.js';
import { FarScanner, type ManifestReply } from './far-scan.js';
import { BATCH_BYTES, encodeFrame, FrameReader, MAX_FRAME_BYTES } from './frame.js';
import { isGeneration } from './manifest-delta.js';
import {
  agentPath,
  MAILROOM_VERSION,
  MAX_ABSENT_PATHS,
  MAX_FILE_BYTES,
  MAX_STAY_MS,
  PROTOCOL_VERSION,
  type Reply,
  type Request,
} from './protocol.js';
import { ScanAheadTimer } from './scan-ahead.js';

/**
 * Requests worked on at once; more wait in stdin's buffer (and then the SSH window). A first copy's
 * creates spend most of their time in fsync: 256 at once let the disk take more of them together
 * (10,000 tasks at 40 ms: 9.7-12.2 s with 64, 7.2-8.2 s with 256 in alternating runs; 1,024 was no
 * better, and would come near the usual limit of 1,024 open files).
 */
const WORKERS = 256;
/**
 * Requests parsed and waiting beyond which stdin is paused (the rest wait in the SSH window, as
 * bytes). Each waiting put holds its data twice (base64 text, then bytes): 2,048 of them held ~5 MB
 * through a first copy and gave the collector more to move; 512 keep two workers' worth in hand.
 * First copies of 10,000 tasks at 40 ms, alternating: 2,048: median 7.0 s of 7; 512: 6.7 s of 7.
 */
const HIGH_WATER = 512;
/** How long replies wait for more while requests are in hand (far below any round trip). */
const GATHER_MS = 2;

export interface ServeOptions {
  endpoint: Endpoint;
  input: Readable;
  output: Writable;
  /**
   * Starts a watcher on agents/; each change is reported as a path relative to the root, and a
   * failure of the watch (events may have been missed; daemon/watch.ts goes on by polling) to onError.
   */
  watch?: (
    onPath: (rel: string) => void,
    onError: (err: unknown) => void,
  ) => Promise<{ close(): Promise<void> }>;
  /**
   * The scanner to answer manifests with: a far agent that stays (resident.ts) keeps one across its
   * connections, with its listings already watched. Absent: a new one for this channel.
   */
  scanner?: FarScanner;
  /**
   * Called with the hello's `stay` (ms, capped at MAX_STAY_MS) when the hub asks for one: the socket
   * where an agent will stay for the next connection, named in the far hello, or undefined (none).
   */
  stay?: (ms: number) => string | undefined;
}

export async function serveAgent(opts: ServeOptions): Promise<void> {
  const server = new Server(opts);
  await server.run();
}

/**
 * A scan started at the hello answers only a manifest that is the connection's first request and
 * comes within this long: a daemon may keep a connection for hours before its first full pass.
 */
const PREFETCH_FRESH_MS = 2_000;

class Server {
  private readonly reader = new FrameReader(MAX_FRAME_BYTES);
  private agents: string[] | undefined;
  private greeted = false;
  /** The manifest scan started at the hello (`prefetch`), for the first manifest request. */
  private prefetched: { manifest: Promise<ManifestReply>; since: string | undefined; at: number } | undefined;
  private readonly todo: Request[] = [];
  private active = 0;
  private replies: Reply[] = [];
  private replyBytes = 0;
  private flushQueued = false;
  private gatherTimer: NodeJS.Timeout | undefined;
  private readonly locks = new Map<number, ReleaseLock>();
  private nextLock = 1;
  private watcher: { close(): Promise<void> } | undefined;
  private changes: string[] = [];
  private readonly scanner: FarScanner;
  private done!: () => void;
  private outputBlocked = false;
  /** A followed agent's scans ahead for the next manifest (scan-ahead.ts). */
  private readonly ahead = new ScanAheadTimer(
    () => this.scanAhead(),
    () => this.active === 0 && this.todo.length === 0,
  );
  private ended = false;
  /** The hub asked (its `watch` request) to be sent each scan ahead's change unasked. */
  private pushAhead = false;

  constructor(private readonly opts: ServeOptions) {
    this.scanner = opts.scanner ?? new FarScanner(opts.endpoint);
  }

  async run(): Promise<void> {
    const finished = new Promise<void>((r) => {
      this.done = r;
    });
    const { input } = this.opts;
    input.on('data', (chunk: Buffer) => {
      let frames: unknown[];
      try {
        frames = this.reader.push(chunk);
      } catch {
        this.done(); // the hub broke the protocol: nothing sensible to answer
        return;
      }
      for (const f of frames) this.onFrame(f);
    });
    // A hub that went away mid-reply: the write fails; that is the end, not a crash.
    this.opts.output.on('error', () => this.done());
    input.on('end', () => this.done());
    input.on('close', () => this.done());
    input.resume();
    await finished;
    // The hub is gone: nothing new is started, what is in hand finishes (a write under its lock is
    // never cut short by our own release), then the locks still held go.
    this.ended = true;
    this.ahead.stop();
    this.todo.length = 0;
    while (this.active > 0) await new Promise<void>((r) => setTimeout(r, 5));
    for (const release of this.locks.values()) await release().catch(() => {});
    await this.watcher?.close();
    if (this.scanner.unsaved) await this.scanner.save();
    await this.scanner.settled();
  }

  private onFrame(frame: unknown): void {
    const f = frame as {
      t?: unknown;
      protocol?: unknown;
      agents?: unknown;
      prefetch?: unknown;
      since?: unknown;
      stay?: unknown;
      reqs?: unknown;
    };
    if (!this.greeted) {
      if (f?.t !== 'hello') {
        this.done();
        return;
      }
      this.greeted = true;
      const ok = f.protocol === PROTOCOL_VERSION;
      if (Array.isArray(f.agents)) this.agents = f.agents.filter((a): a is string => typeof a === 'string');
      const stayMs = typeof f.stay === 'number' && f.stay > 0 ? Math.min(f.stay, MAX_STAY_MS) : 0;
      const socket = ok && stayMs > 0 ? this.opts.stay?.(stayMs) : undefined;
      this.send({
        t: 'hello',
        protocol: PROTOCOL_VERSION,
        version: MAILROOM_VERSION,
        ...(ok
          ? {}
          : { refused: `this side speaks protocol ${PROTOCOL_VERSION}, the hub ${String(f.protocol)}` }),
        ...(socket === undefined ? {} : { stay: socket }),
      });
      if (!ok) this.done();
      else if (f.prefetch === 'manifest' && this.agents) {
        const since = isGeneration(f.since) ? f.since : undefined;
        this.prefetched = { manifest: this.scan(this.agents, since), since, at: Date.now() };
      }
      return;
    }
    if (f?.t !== 'req' || !Array.isArray(f.reqs)) {
      this.done(); // an unknown message: refused by ending the channel
      return;
    }
    // Folders seen to be real are remembered for the requests of one message only: a folder swapped
    // for a link between two messages (minutes apart on a kept connection) is seen by the next one.
    this.opts.endpoint.newPass?.();
    for (const r of f.reqs as Request[]) this.todo.push(r);
    this.pump();
  }

  private pump(): void {
    while (this.active < WORKERS && this.todo.length > 0) {
      const r = this.todo.shift()!;
      this.active++;
      void this.handle(r)
        .then(
          (value): Reply => ({ id: r.id, ok: true, ...(value === undefined ? {} : { value }) }),
          (err: unknown): Reply => ({
            id: r.id,
            ok: false,
            kind: err instanceof MailroomError ? err.kind : 'refused',
            message: err instanceof Error ? err.message : String(err),
          }),
        )
        .then((reply) => {
          this.active--;
          this.reply(reply);
          this.pump();
        });
    }
    const busy = this.todo.length > HIGH_WATER || this.outputBlocked;
    if (busy) this.opts.input.pause();
    else this.opts.input.resume();
  }

  private reply(r: Reply): void {
    this.replies.push(r);
    this.replyBytes += 100 + (r.ok && typeof r.value === 'string' ? r.value.length : 0);
    if (this.replyBytes >= BATCH_BYTES) {
      this.flush();
      return;
    }
    // The last reply in hand goes out at once; while more requests are being worked on, replies
    // gather for up to GATHER_MS into one frame (one write to the channel instead of one each: a
    // first copy of 10,000 files spent 5% of the agent's time in those writes).
    if (this.active === 0 && this.todo.length === 0) {
      if (!this.flushQueued) {
        this.flushQueued = true;
        setImmediate(() => this.flush());
      }
    } else this.gatherTimer ??= setTimeout(() => this.flush(), GATHER_MS);
  }

  private flush(): void {
    this.flushQueued = false;
    clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
    if (this.replies.length === 0) return;
    const res = this.replies;
    this.replies = [];
    this.replyBytes = 0;
    this.send({ t: 'res', res });
  }

  private send(message: unknown): void {
    if (!this.opts.output.write(encodeFrame(message))) {
      this.outputBlocked = true;
      this.opts.input.pause();
      this.opts.output.once('drain', () => {
        this.outputBlocked = false;
        this.pump();
      });
    }
  }

  // Writes only inside the hub's agents' folders (when it named them), on top of the endpoint's
  // own rules (no escape from the root, no link followed).
  private writable(rel: unknown): string {
    if (typeof rel !== 'string') throw refused('a request without a path');
    if (this.agents && rel !== 'agents' && !agentPath(rel, this.agents))
      throw refused(`${rel}: outside the folders of this host's agents; not written`);
    return rel;
  }

  private bytes(data: unknown): Buffer {
    if (typeof data !== 'string') throw refused('a write without data');
    const b = Buffer.from(data, 'base64');
    if (b.length > MAX_FILE_BYTES)
      throw refused(`a file of ${b.length} bytes, over the cap of ${MAX_FILE_BYTES}`);
    return b;
  }

  /** A manifest of `agents`' folders, as a new pass sees them. */
  private scan(agents: string[], since: string | undefined): Promise<ManifestReply> {
    this.opts.endpoint.newPass?.();
    const manifest = this.scanner.reply(agents, since);
    manifest.catch(() => {}); // a prefetch nobody asks for must not be an unhandled rejection
    return manifest;
  }

  private async handle(r: Request): Promise<unknown> {
    const ep = this.opts.endpoint;
    const rel = typeof r.rel === 'string' ? r.rel : '';
    // A prefetched scan is given only to a manifest that is the first request, and fresh.
    const early = this.prefetched;
    this.prefetched = undefined;
    switch (r.op) {
      case 'list':
        return ep.list(rel);
      case 'stat':
        return (await ep.stat(rel)) ?? null;
      case 'read': {
        const b = await ep.readFile(
          rel,
          typeof r.maxBytes === 'number' && r.maxBytes >= 0
            ? { maxBytes: Math.min(r.maxBytes, MAX_FILE_BYTES), limitKey: String(r.limitKey ?? 'limits') }
            : undefined,
        );
        if (b.length > MAX_FILE_BYTES)
          throw refused(`${rel}: ${b.length} bytes, over the cap of ${MAX_FILE_BYTES}; not synced`);
        return b.toString('base64');
      }
      case 'write':
        this.scanner.forget(rel);
        return ep.writeFileAtomic(this.writable(r.rel), this.bytes(r.data));
      case 'remove':
        return ep.remove(this.writable(r.rel));
      case 'mkdirp':
        return ep.mkdirp(this.writable(r.rel));
      case 'lock': {
        const release = await ep.lock(this.writable(r.rel), {
          ...(typeof r.staleMs === 'number' ? { staleMs: r.staleMs } : {}),
          ...(typeof r.timeoutMs === 'number' ? { timeoutMs: r.timeoutMs } : {}),
        });
        const lockId = this.nextLock++;
        this.locks.set(lockId, release);
        return { lockId };
      }
      case 'unlock': {
        const release = this.locks.get(Number(r.lockId));
        if (!release) return undefined; // released already: releasing twice is harmless
        this.locks.delete(Number(r.lockId));
        return release();
      }
      case 'put': {
        const expect = typeof r.expect === 'string' ? r.expect : undefined;
        const path = this.writable(r.rel);
        const bytes = this.bytes(r.data);
        const there = expect === undefined ? await this.firstPresent(r.absent) : undefined;
        if (there !== undefined)
          return { skip: `${there} on ${ep.label} holds this task already; ${path} not created` };
        this.scanner.forget(rel);
        // Written with a settled mtime and recorded, so the next manifest does not hash it again.
        const mtimeMs = settledMtime(Date.now());
        let seen: EntryStat | undefined;
        const outcome = await putIfHolds(ep, path, bytes, expect, {
          write: { mtimeMs, seen: (st) => (seen = st) },
        });
        if ('done' in outcome && outcome.done === 'written')
          await this.scanner.remember(
            path,
            bytes,
            mtimeMs,
            Number.isSafeInteger(r.rank) ? r.rank : undefined,
            seen,
          );
        return outcome;
      }
      case 'drop':
        if (typeof r.expect !== 'string') throw refused('a remove without the expected content');
        this.scanner.forget(rel);
        return removeIfHolds(ep, this.writable(r.rel), r.expect);
      case 'manifest': {
        if (!this.agents) throw refused('a manifest needs the agents named in the hello');
        const since = isGeneration(r.since) ? r.since : undefined;
        const fresh = early && early.since === since && Date.now() - early.at < PREFETCH_FRESH_MS;
        return fresh ? early.manifest : this.scan(this.agents, since);
      }
      case 'watch':
        if (r.ahead === true) this.pushAhead = true;
        return this.startWatch();
      default:
        throw refused(`unknown request ${JSON.stringify(String(r.op)).slice(0, 40)}`);
    }
  }

  /** The first of `paths` (a put's `absent`) that exists, if any; each checked as a writable path. */
  private async firstPresent(paths: unknown): Promise<string | undefined> {
    if (paths === undefined) return undefined;
    if (!Array.isArray(paths) || paths.length > MAX_ABSENT_PATHS)
      throw refused(`a put whose absent list is not a list of at most ${MAX_ABSENT_PATHS} paths`);
    const rels = paths.map((p) => this.writable(p));
    const found = await Promise.all(rels.map((rel) => this.opts.endpoint.stat(rel)));
    return rels.find((_, i) => found[i] !== undefined);
  }

  private async startWatch(): Promise<void> {
    if (this.watcher || !this.opts.watch) return;
    // The same events make the manifest scans list only the boxes they name (watched-listings.ts),
    // unless the scanner's listings are watched already (a far agent that stays watches its own).
    const listings = this.scanner.watched ? undefined : new WatchedListings();
    this.watcher = await this.opts.watch(
      (path) => {
        listings?.hint(path);
        this.ahead.poke();
        if (this.changes.push(path) === 1)
          setImmediate(() => {
            const paths = this.changes;
            this.changes = [];
            this.send({ t: 'changed', paths });
          });
      },
      () => listings?.stop(),
    );
    if (listings) {
      listings.start();
      this.scanner.watched = listings;
    }
    this.ahead.poke();
  }

  /**
   * A followed agent (a daemon's: its folders watched) scans ahead for the next manifest once its
   * folders and its channel are quiet, so that the next full pass is not kept waiting for the far
   * scan (~70 ms at 10,000 tasks); a hub that asked is sent the change at once, so its next pass
   * need not ask.
   */
  private scanAhead(): Promise<void> | undefined {
    const agents = this.agents;
    if (this.ended || !agents || !this.watcher) return undefined;
    this.opts.endpoint.newPass?.();
    const running = this.scanner.scanAhead(agents);
    return running?.then(async () => {
      const delta = this.pushAhead ? await this.scanner.pushAhead(agents).catch(() => undefined) : undefined;
      if (delta && !this.ended) this.send({ t: 'ahead', delta });
    });
  }
}
