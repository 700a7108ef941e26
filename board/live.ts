// Live updates for the board: file-change hints (daemon/watch.ts: the agents' folders, the event log,
// mailroom.yaml, the daemon's status file) mark the model stale; a short debounce later the model is
// rebuilt and, if its version changed, every open page gets a server-sent `change` event and fetches
// what it shows. A periodic rebuild keeps ages and deadlines current and covers any missed hint.
// The page's EventSource reconnects by itself (`retry:` below); each new connection gets the version.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { type Watcher, watchPaths } from '../daemon/watch.js';
import type { BoardModel } from './model.js';

/**
 * Hints within this window are one rebuild. It also lets the daemon finish the pass the same change
 * woke it for before the board reads the folders (the board must never slow routing down); the page
 * is still current well within a second.
 */
const DEBOUNCE_MS = 250;
/** Rebuild at least this often even without a hint (ages, deadlines, a missed event). */
const PERIODIC_MS = 5_000;
/** A comment line this often keeps proxies and idle timeouts from closing the stream. */
const HEARTBEAT_MS = 15_000;

export class LiveFeed {
  private readonly clients = new Set<ServerResponse>();
  private watcher?: Watcher;
  private timer?: NodeJS.Timeout;
  private periodic?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private sent = '';

  constructor(private readonly model: BoardModel) {}

  async start(polling: boolean): Promise<void> {
    const layout = this.model.mr.layout;
    const config = layout.configPath;
    this.watcher = await watchPaths(
      [layout.agentsDir, layout.eventsPath, config, join(layout.stateDir, 'daemon.json')],
      (path) => {
        this.model.invalidate({ config: path === config });
        this.schedule(DEBOUNCE_MS);
      },
      { polling },
    );
    this.periodic = setInterval(() => this.poke(), PERIODIC_MS);
    this.heartbeat = setInterval(() => this.write(': ping\n\n'), HEARTBEAT_MS);
  }

  /** Something changed (an action of this board, the periodic tick): rebuild and tell the pages. */
  poke(): void {
    this.model.invalidate();
    this.schedule(0);
  }

  attach(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    res.write(`retry: 1000\n\nevent: change\ndata: ${this.sent}\n\n`);
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    clearInterval(this.periodic);
    clearInterval(this.heartbeat);
    await this.watcher?.close();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private schedule(ms: number): void {
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => void this.run(), ms);
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    this.running = true;
    this.again = false;
    try {
      const { version } = await this.model.snapshot();
      if (version !== this.sent) {
        this.sent = version;
        this.write(`event: change\ndata: ${version}\n\n`);
      }
    } catch {
      // A rebuild that failed (a folder removed under it) is tried again on the next hint or tick.
    } finally {
      this.running = false;
      if (this.again) this.schedule(DEBOUNCE_MS);
    }
  }

  private write(chunk: string): void {
    for (const res of this.clients) res.write(chunk);
  }
}
