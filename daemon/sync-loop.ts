// The daemon's side of sync: one SSH connection per host kept open (keepalives come from the SSH
// layer), a pass soon after a local change in that host's agents' folders, and a pass every
// `sync.interval` to pull. A lost connection is reopened with backoff (1 s doubling to 60 s); a
// failing pass never stops the daemon. Passes on one host never overlap (syncHost holds a lock).

import { parseDurationMs } from '../src/duration.js';
import type { Mailroom } from '../src/mailroom.js';
import { type HostLink, openHost } from '../src/sync/connect-host.js';
import { hostAgents, syncHost } from '../src/sync/pass.js';

/** How long local changes gather before they are pushed. */
export const PUSH_DEBOUNCE_MS = 300;

interface HostLoop {
  name: string;
  link?: HostLink;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  again: boolean;
  failures: number;
}

export class SyncLoops {
  private readonly hosts = new Map<string, HostLoop>();
  private stopped = false;

  constructor(
    private readonly mr: Mailroom,
    private readonly say: (line: string) => void,
  ) {}

  /** Start (or re-read the configuration for) one loop per configured host. */
  start(): void {
    for (const name of Object.keys(this.mr.config.hosts)) {
      if (!this.hosts.has(name)) {
        this.hosts.set(name, { name, again: false, failures: 0 });
        this.schedule(name, 0);
      }
    }
  }

  private intervalMs(): number {
    return parseDurationMs(this.mr.config.sync.interval) ?? 60_000;
  }

  private schedule(name: string, delayMs: number): void {
    const loop = this.hosts.get(name);
    if (!loop || this.stopped) return;
    if (loop.timer) clearTimeout(loop.timer);
    loop.timer = setTimeout(() => void this.run(name), delayMs);
  }

  /** A local change under agents/<agent>/: push to the host that agent lives on, soon. */
  localChange(agent: string): void {
    const host = this.mr.config.agents[agent]?.host;
    if (host && this.hosts.has(host)) this.schedule(host, PUSH_DEBOUNCE_MS);
  }

  private async run(name: string): Promise<void> {
    const loop = this.hosts.get(name);
    if (!loop || this.stopped) return;
    if (loop.running) {
      loop.again = true;
      return;
    }
    loop.running = (async () => {
      const config = this.mr.config.hosts[name];
      if (!config || hostAgents(this.mr, name).length === 0) return;
      try {
        loop.link ??= await openHost(name, config);
        const r = await syncHost(this.mr, name, { remote: loop.link.endpoint });
        if (loop.failures > 0) this.say(`sync with ${name} works again`);
        loop.failures = 0;
        const moved = r.pushed + r.pulled + r.merged + r.deleted;
        if (moved > 0)
          this.say(
            `sync ${name}: pushed ${r.pushed}, pulled ${r.pulled}, merged ${r.merged}, deleted ${r.deleted}`,
          );
        for (const c of r.conflicts) this.say(`sync ${name}: conflict: ${c}`);
        this.schedule(name, this.intervalMs());
      } catch (err) {
        loop.failures++;
        const message = err instanceof Error ? err.message : String(err);
        if (loop.failures === 1 || loop.failures % 10 === 0)
          this.say(`sync with ${name} failed (attempt ${loop.failures}): ${message}`);
        await loop.link?.close().catch(() => {});
        loop.link = undefined;
        this.schedule(name, Math.min(60_000, 1000 * 2 ** Math.min(loop.failures - 1, 6)));
      }
    })();
    await loop.running;
    loop.running = undefined;
    if (loop.again && !this.stopped) {
      loop.again = false;
      this.schedule(name, 0);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const loop of this.hosts.values()) {
      if (loop.timer) clearTimeout(loop.timer);
      await loop.running;
      await loop.link?.close().catch(() => {});
    }
  }
}
