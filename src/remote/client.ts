// The hub's side of the far-agent protocol: one `mailroom serve` on an exec channel, requests sent in
// batches (all the requests made in one turn of the event loop travel in one frame), replies matched
// by id, and the far side's change stream. Anything the far side sends that breaks the protocol —
// an over-cap frame, bad JSON, an unknown message, a reply to no request, a reply of the wrong shape —
// ends the channel: every pending and later call fails with a network error naming the host, which
// ends the pass (the daemon reconnects with backoff). A far side that owes replies and goes silent
// is ended the same way after REPLY_TIMEOUT_MS, so nothing waits forever.

import { MailroomError, networkError, notFound, refused, usageError } from '../errors.js';
import type { RemoteChannel } from '../ssh/connect.js';
import { BATCH_BYTES, encodeFrame, FrameError, FrameReader, MAX_FRAME_BYTES } from './frame.js';
import { isSocketPath } from './kept-agent.js';
import {
  FarFrameSchema,
  FarHelloSchema,
  HELLO_TIMEOUT_MS,
  type HubHello,
  MAILROOM_VERSION,
  MAX_IN_FLIGHT,
  mismatchMessage,
  PROTOCOL_VERSION,
  REPLY_TIMEOUT_MS,
  type Request,
} from './protocol.js';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface AgentClientOptions {
  /** The host's name, for every message. */
  host: string;
  /** The far command line, for messages. */
  command: string;
  /** Scopes the far side's writes to these agents' folders. Absent: the whole root. */
  agents?: readonly string[];
  /** The first request will be a manifest: the far side may start its scan at the hello. */
  prefetchManifest?: boolean;
  /** With prefetchManifest: the generation of the last manifest the hub holds (manifest-delta.ts). */
  manifestSince?: string;
  /** Called once the hello is written: from then on the far side works on its own. */
  onHelloSent?: () => void;
  /** Ask the far agent to stay this long (ms) after this connection, for the next (resident.ts). */
  stayMs?: number;
  maxFrameBytes?: number;
  replyTimeoutMs?: number;
  /** How often the reply timeout is checked (tests); default min(replyTimeoutMs, 5 s). */
  replyCheckMs?: number;
  helloTimeoutMs?: number;
}

export class AgentClient {
  readonly farVersion: string;
  /** Where the far agent said it will stay for the next connection (checked: isSocketPath). */
  farStay: string | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private queue: Request[] = [];
  private queuedBytes = 0;
  private flushing = false;
  private waiting: (() => void)[] = [];
  private failure: MailroomError | undefined;
  private changeListeners = new Set<(paths: string[]) => void>();
  /** `changed` messages heard so far: a manifest sent ahead holds until the next one. */
  changesHeard = 0;
  private aheadListener: ((delta: unknown, heard: number) => void) | undefined;
  /** When the far side last sent anything, or the first request since then went out. */
  private lastHeard = Date.now();
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly channel: RemoteChannel,
    private readonly opts: AgentClientOptions,
    farVersion: string,
  ) {
    this.farVersion = farVersion;
  }

  /** Handshake on a fresh channel; refuses a protocol mismatch naming the side to upgrade. */
  static async start(channel: RemoteChannel, opts: AgentClientOptions): Promise<AgentClient> {
    const reader = new FrameReader(opts.maxFrameBytes ?? MAX_FRAME_BYTES);
    const hello: HubHello = {
      t: 'hello',
      protocol: PROTOCOL_VERSION,
      version: MAILROOM_VERSION,
      ...(opts.agents ? { agents: [...opts.agents] } : {}),
      ...(opts.prefetchManifest && opts.agents ? { prefetch: 'manifest' as const } : {}),
      ...(opts.prefetchManifest && opts.agents && opts.manifestSince ? { since: opts.manifestSince } : {}),
      ...(opts.stayMs ? { stay: opts.stayMs } : {}),
    };
    channel.write(encodeFrame(hello));
    opts.onHelloSent?.();
    const far = await new Promise<{ protocol: number; version: string; refused?: string; stay?: string }>(
      (resolve, reject) => {
        let settled = false;
        const done = (err: unknown, v?: { protocol: number; version: string; stay?: string }) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(v!);
        };
        const timer = setTimeout(
          () =>
            done(
              networkError(`${opts.host}: the far mailroom (${opts.command}) did not answer the handshake`),
            ),
          opts.helloTimeoutMs ?? HELLO_TIMEOUT_MS,
        );
        channel.onEnd(() =>
          done(new AgentMissing(opts.host, opts.command, channel.stderr().trim().split('\n')[0] ?? '')),
        );
        channel.onData((chunk) => {
          if (settled) return;
          try {
            const [first] = reader.push(chunk);
            if (first === undefined) return;
            const parsed = FarHelloSchema.safeParse(first);
            if (!parsed.success) throw new FrameError('a first message that is not a hello');
            done(undefined, parsed.data);
          } catch (err) {
            done(protocolError(opts.host, err));
          }
        });
      },
    );
    if (far.protocol !== PROTOCOL_VERSION || far.refused) {
      channel.close();
      throw refused(
        `${opts.host}: the far mailroom speaks protocol ${far.protocol}, this one ${PROTOCOL_VERSION}: ${mismatchMessage(opts.host, far, MAILROOM_VERSION)}`,
        'both machines must run the same mailroom protocol; sync with this host stops until then',
      );
    }
    const client = new AgentClient(channel, opts, far.version);
    if (isSocketPath(far.stay)) client.farStay = far.stay;
    client.listen(reader);
    return client;
  }

  get failed(): MailroomError | undefined {
    return this.failure;
  }

  private listen(reader: FrameReader): void {
    // From here on the reader sees only what follows the hello.
    this.channel.onData((chunk) => {
      if (this.failure) return;
      this.lastHeard = Date.now();
      try {
        for (const frame of reader.push(chunk)) this.onFrame(frame);
      } catch (err) {
        this.fail(protocolError(this.opts.host, err));
      }
    });
    this.channel.onEnd(() => {
      const cut = reader.pending > 0 ? ' in the middle of a message' : '';
      this.fail(
        networkError(`${this.opts.host}: the far mailroom stopped${cut}`, 'the next sync pass retries'),
      );
    });
    const timeout = this.opts.replyTimeoutMs ?? REPLY_TIMEOUT_MS;
    this.timer = setInterval(() => {
      if (this.pending.size > 0 && Date.now() - this.lastHeard > timeout)
        this.fail(networkError(`${this.opts.host}: the far mailroom sent nothing for ${timeout / 1000} s`));
    }, this.opts.replyCheckMs ?? Math.min(timeout, 5_000));
    this.timer.unref();
  }

  private onFrame(frame: unknown): void {
    const parsed = FarFrameSchema.safeParse(frame);
    if (!parsed.success) throw new FrameError('an unknown or malformed message');
    const msg = parsed.data;
    if (msg.t === 'changed') {
      this.changesHeard++;
      for (const l of this.changeListeners) l(msg.paths);
      return;
    }
    if (msg.t === 'ahead') {
      if (!this.aheadListener) throw new FrameError('a manifest sent ahead, which was not asked for');
      this.aheadListener(msg.delta, this.changesHeard);
      return;
    }
    for (const r of msg.res) {
      const p = this.pending.get(r.id);
      if (!p) throw new FrameError(`a reply to request ${r.id}, which was not asked`);
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(farError(this.opts.host, r.kind, r.message));
    }
    this.release();
  }

  private fail(err: MailroomError): void {
    if (this.failure) return;
    this.failure = err;
    if (this.timer) clearInterval(this.timer);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.release();
    this.channel.close();
  }

  private release(): void {
    while (this.waiting.length > 0 && this.pending.size + this.queue.length < MAX_IN_FLIGHT)
      this.waiting.shift()!();
  }

  /** One request; its reply's value (unchecked: the caller checks it with its schema). */
  async call(req: Omit<Request, 'id'>): Promise<unknown> {
    while (!this.failure && this.pending.size + this.queue.length >= MAX_IN_FLIGHT)
      await new Promise<void>((r) => this.waiting.push(r));
    if (this.failure) throw this.failure;
    const id = this.nextId++;
    // The silence that counts is the silence while a reply is owed: a link left idle for minutes
    // between passes (the daemon's interval pass backs off) must not fail the next request at once.
    if (this.pending.size === 0) this.lastHeard = Date.now();
    const full = { id, ...req } as Request;
    const reply = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.queue.push(full);
    this.queuedBytes += (req.data?.length ?? 0) + 100;
    if (this.queuedBytes >= BATCH_BYTES) void this.flush();
    else if (!this.flushing) setImmediate(() => void this.flush());
    return reply;
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.failure) {
        // Cut a batch at BATCH_BYTES; a channel that wants us to wait is waited for (backpressure).
        const batch: Request[] = [];
        let bytes = 0;
        while (this.queue.length > 0 && (batch.length === 0 || bytes < BATCH_BYTES)) {
          const r = this.queue.shift()!;
          bytes += (r.data?.length ?? 0) + 100;
          batch.push(r);
        }
        this.queuedBytes -= bytes;
        if (!this.channel.write(encodeFrame({ t: 'req', reqs: batch }))) await this.channel.drained();
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Far changes under agents/ (relative paths, unchecked); starts the far watcher on first use. With
   * `ahead`, the far agent also sends each manifest change it scanned ahead between passes (unchecked:
   * the listener checks it), with the count of changes heard before it.
   */
  async onChanges(
    listener: (paths: string[]) => void,
    ahead?: (delta: unknown, heard: number) => void,
  ): Promise<() => void> {
    this.changeListeners.add(listener);
    if (ahead) this.aheadListener = ahead;
    await this.call({ op: 'watch', ...(ahead ? { ahead: true } : {}) });
    return () => this.changeListeners.delete(listener);
  }

  /** Ends the channel because of what the far side sent: every pending call fails with `err`. */
  abort(err: MailroomError): void {
    this.fail(err);
  }

  close(): void {
    this.fail(networkError(`${this.opts.host}: the far mailroom channel was closed`));
  }
}

/** The far command could not be started (not installed, not on PATH): the caller falls back to SFTP. */
export class AgentMissing extends MailroomError {
  constructor(host: string, command: string, why: string) {
    super('network', `${host}: no mailroom agent there (${command} serve${why ? `: ${why}` : ' ended'})`);
  }
}

function protocolError(host: string, err: unknown): MailroomError {
  const what = err instanceof FrameError ? err.message : String(err);
  return networkError(
    `${host}: the far mailroom broke the protocol (${what}); the pass stopped`,
    'check the far mailroom version (`mailroom --version` there) and its stderr',
  );
}

// Errors the far side reports per request keep their kind (a refused write is a per-file problem,
// a missing file is notFound), so the sync engine treats them as it treats local ones.
function farError(host: string, kind: string, message: string): MailroomError {
  const m = `${message.slice(0, 2000)}`;
  if (kind === 'notFound') return notFound(m);
  if (kind === 'refused') return refused(m);
  if (kind === 'usage') return usageError(m);
  return networkError(`${host}: ${m}`);
}
