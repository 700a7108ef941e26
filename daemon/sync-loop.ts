// The daemon's side of sync: one SSH connection per host kept open (keepalives come from the SSH
// layer), a pass soon after a local change in that host's agents' folders, and a pass every
// `sync.interval` to pull. A lost connection is reopened with backoff (1 s doubling to 60 s); a
// failing pass never stops the daemon. Passes on one host never overlap (syncHost holds a lock).
//
// Scheduling is leading-edge with a bounded wait: the first change starts a pass after a short
// gather, later changes never push a pending pass further out, and changes that arrive while a pass
// runs get exactly one more pass right after it. A steady stream of changes therefore still syncs
// about once per pass time (torture defect D9 was an unbounded trailing debounce).
//
// A pass is a full two-sided pass at the interval, after (re)connecting and whenever the fast path
// declines; otherwise the paths reported as changed (by the watcher here, or by the far `mailroom
// watch`) go through the fast path (src/sync/changed.ts), which touches only those tasks.

import type { HostConfig } from '../src/config/schema.js';
import { parseDurationMs } from '../src/duration.js';
import type { Mailroom } from '../src/mailroom.js';
import { shellPath } from '../src/remote/probe.js';
import type { RemoteCommand } from '../src/ssh/connect.js';
import { syncChanged } from '../src/sync/changed.js';
import { type HostLink, openHost } from '../src/sync/connect-host.js';
import { hostAgents, syncHost } from '../src/sync/pass.js';
import type { Side } from '../src/sync/reconcile.js';
import { keptAgentPath, manifestCopyPath } from '../src/sync/state.js';
import { WatchedListings } from '../src/sync/watched-listings.js';
import { SerialRunner } from './serial.js';

/** How long local changes gather before they are pushed (a save is often several events). */
export const PUSH_GATHER_MS = 50;
/**
 * How long far changes (streamed) gather before they are pulled. The far agent already sends the
 * events of one turn of its event loop as one message, so this only joins messages that arrive
 * close together; each millisecond of it is a millisecond of every far change's way to the hub
 * (50 ms was a third of it at 40 ms RTT: docs/performance.md, "Far to hub").
 */
const STREAM_GATHER_MS = 10;

export { shellPath } from '../src/remote/probe.js';

interface HostLoop {
  name: string;
  link?: HostLink;
  stream?: RemoteCommand | { close(): void };
  /** One pass at a time, one more after it when asked during it (serial.ts). */
  runner: SerialRunner;
  failures: number;
  /** Paths (relative to the root) reported changed on each side since the last pass began. */
  pending: Record<Side, Set<string>>;
  /** When the next full pass is due (epoch ms); 0 = at the next run. */
  fullAt: number;
  /** Full passes in a row that moved nothing while the host was followed (nextFullMs). */
  quietFulls: number;
  /** This machine's box listings the daemon's watcher vouches for, for this host's full passes. */
  listings: WatchedListings;
}

/** How far the interval pass backs off while a followed host stays quiet (a multiple of the interval). */
const FULL_BACKOFF_MAX = 5;

/**
 * The time to the next full pass after one. A host whose changes stream to us (followed) and whose
 * full passes keep finding nothing to move needs the interval pass only as a safety net for a
 * missed stream event: it comes less often, doubling up to FULL_BACKOFF_MAX x the interval. A host
 * that is not followed (SFTP, no far mailroom) is pulled only by it: always the interval.
 */
export function nextFullMs(intervalMs: number, quietFulls: number, followed: boolean): number {
  if (!followed || quietFulls <= 0) return intervalMs;
  return intervalMs * Math.min(2 ** quietFulls, FULL_BACKOFF_MAX);
}

export class SyncLoops {
  private readonly hosts = new Map<string, HostLoop>();
  private stopped = false;
  /** The daemon's watcher is running in native mode (its events are trusted to mark changed boxes). */
  private watching = false;

  constructor(
    private readonly mr: Mailroom,
    private readonly say: (line: string) => void,
  ) {}

  /** Start (or re-read the configuration for) one loop per configured host. */
  start(): void {
    for (const name of Object.keys(this.mr.config.hosts)) {
      if (!this.hosts.has(name)) {
        const loop: HostLoop = {
          name,
          // While the host is failing, the backoff decides; a change must not hammer a dead connection.
          runner: new SerialRunner(
            () => this.run(name),
            () => loop.failures === 0,
          ),
          failures: 0,
          pending: { local: new Set(), remote: new Set() },
          fullAt: 0,
          quietFulls: 0,
          listings: new WatchedListings(),
        };
        if (this.watching) loop.listings.start();
        this.hosts.set(name, loop);
        this.schedule(name, 0);
      }
    }
  }

  private intervalMs(): number {
    return parseDurationMs(this.mr.config.sync.interval) ?? 60_000;
  }

  /** Run a pass in `delayMs`, unless one is already due sooner (a deadline only ever moves earlier). */
  private schedule(name: string, delayMs: number): void {
    if (!this.stopped) this.hosts.get(name)?.runner.schedule(delayMs);
  }

  /** After a pass: the next one at the interval, unless something asked for one sooner. */
  private reschedule(name: string, delayMs: number): void {
    if (!this.stopped) this.hosts.get(name)?.runner.reschedule(delayMs);
  }

  /** A change is wanted on `host` soon: during a pass, one more pass right after it. */
  private soon(host: string, gatherMs: number, side?: Side, path?: string): void {
    const loop = this.hosts.get(host);
    if (!loop) return;
    if (side && path) loop.pending[side].add(path);
    else if (side) loop.fullAt = 0; // a change somewhere, path unknown: a full pass
    // While the host is failing, the backoff decides; a change must not hammer a dead connection.
    if (loop.failures > 0) return;
    if (!loop.runner.askAgain()) this.schedule(host, gatherMs);
  }

  /**
   * The daemon's rescan found a local change that no file event announced: the watcher missed it, so
   * the sync's fast path never heard of it either. A full pass with every host, soon.
   */
  missedLocalChange(): void {
    for (const [name, loop] of this.hosts) {
      loop.listings.forget(); // and its full pass lists every box again
      this.soon(name, PUSH_GATHER_MS, 'local');
    }
  }

  /**
   * Whether the daemon's watcher runs (native mode, no error since it started): while it does, a full
   * pass lists again only the boxes it reported a change in (src/sync/watched-listings.ts).
   */
  watcherRunning(running: boolean): void {
    this.watching = running;
    for (const loop of this.hosts.values())
      if (running) loop.listings.start();
      else loop.listings.stop();
  }

  /** A local change at `path` (relative to the root) under agents/<agent>/: push it to that agent's host, soon. */
  localChange(agent: string, path?: string): void {
    const host = this.mr.config.agents[agent]?.host;
    if (!host) return;
    if (path) this.hosts.get(host)?.listings.hint(path);
    else this.hosts.get(host)?.listings.forget();
    this.soon(host, PUSH_GATHER_MS, 'local', path);
  }

  /** One pass with a host (run by the loop's SerialRunner, never two at once). */
  private async run(name: string): Promise<void> {
    const loop = this.hosts.get(name);
    if (!loop || this.stopped) return;
    {
      const config = this.mr.config.hosts[name];
      if (!config || hostAgents(this.mr, name).length === 0) return;
      try {
        if (!loop.link) {
          loop.link = await openHost(name, config, {
            agents: hostAgents(this.mr, name),
            manifestCopy: manifestCopyPath(this.mr, name),
            keptAgent: keptAgentPath(this.mr, name),
            kept: true,
          }).catch(async (err: unknown) => {
            // syncHost logs its own failures; a failure to connect is logged here, once per streak.
            if (loop.failures === 0) {
              const reason = err instanceof Error ? err.message : String(err);
              await this.mr.log({ type: 'sync.failed', host: name, reason }).catch(() => {});
            }
            throw err;
          });
          loop.fullAt = 0;
          loop.quietFulls = 0;
          if (loop.link.transport === 'sftp' && loop.link.note)
            this.say(`sync ${name}: over SFTP (${loop.link.note})`);
          void this.follow(loop, config);
        }
        const pending = loop.pending;
        loop.pending = { local: new Set(), remote: new Set() };
        let full = Date.now() >= loop.fullAt;

        for (const side of ['local', 'remote'] as const) {
          if (full || pending[side].size === 0) continue;
          const r = await syncChanged(this.mr, name, side, [...pending[side]], loop.link.endpoint);
          if (r.kind === 'full') {
            full = true;
            // Why the fast path declined, for a person tuning a busy mailroom (docs/sync.md).
            if (process.env.MAILROOM_DEBUG_SYNC) this.say(`sync ${name}: full pass: ${r.reason}`);
          } else if (r.pushed + r.pulled + r.deleted > 0)
            this.say(`sync ${name}: pushed ${r.pushed}, pulled ${r.pulled}, merged 0, deleted ${r.deleted}`);
        }
        if (full) {
          const started = Date.now();
          loop.fullAt = started + this.intervalMs();
          const l = loop.link;
          const r = await syncHost(this.mr, name, {
            remote: l.endpoint,
            via: { kind: l.transport, ...(l.note ? { note: l.note } : {}) },
            localListings: loop.listings,
          });
          const moved = r.pushed + r.pulled + r.merged + r.deleted;
          const quiet = moved === 0 && r.conflicts.length === 0 && r.problems.length === 0;
          const followed = loop.stream !== undefined;
          loop.quietFulls = quiet && followed ? loop.quietFulls + 1 : 0;
          // Unless a change asked for a full pass meanwhile (fullAt 0), the next is due from this one's start.
          if (loop.fullAt !== 0)
            loop.fullAt = started + nextFullMs(this.intervalMs(), loop.quietFulls, followed);
          if (moved > 0)
            this.say(
              `sync ${name}: pushed ${r.pushed}, pulled ${r.pulled}, merged ${r.merged}, deleted ${r.deleted}`,
            );
          for (const c of r.conflicts) this.say(`sync ${name}: conflict: ${c}`);
        }
        if (loop.failures > 0) this.say(`sync with ${name} works again`);
        loop.failures = 0;
        this.reschedule(name, Math.max(0, loop.fullAt - Date.now()));
      } catch (err) {
        loop.failures++;
        loop.fullAt = 0; // after a failure, only a full pass knows what is left to do
        loop.quietFulls = 0;
        const message = err instanceof Error ? err.message : String(err);
        if (loop.failures === 1 || loop.failures % 10 === 0)
          this.say(`sync with ${name} failed (attempt ${loop.failures}): ${message}`);
        loop.stream?.close();
        loop.stream = undefined;
        await loop.link?.close().catch(() => {});
        loop.link = undefined;
        this.reschedule(name, Math.min(60_000, 1000 * 2 ** Math.min(loop.failures - 1, 6)));
      }
    }
  }

  /**
   * Follow the far side's changes over the same connection when it has mailroom (`mailroom watch`):
   * each change triggers a pull soon, instead of at the next interval. Without it, nothing is lost:
   * the interval pull still runs.
   */
  private async follow(loop: HostLoop, config: HostConfig): Promise<void> {
    const link = loop.link;
    if (!link) return;
    if (link.agent) {
      // The far agent streams its changes on the channel the sync uses.
      try {
        // With the far agent's scans made ahead between passes, so a full pass need not ask.
        const stop = await link.agent.onChanges(
          hostAgents(this.mr, loop.name),
          (paths) => {
            for (const p of paths) this.soon(loop.name, STREAM_GATHER_MS, 'remote', p);
          },
          { ahead: true },
        );
        loop.stream = { close: () => void stop() };
        this.say(`following ${loop.name}: its changes are pulled as they happen`);
      } catch {
        // the channel is going away; the reconnect starts a new follower
      }
      return;
    }
    const command = `${config.mailroom ?? 'mailroom'} watch --root ${shellPath(config.root)}`;
    let ready = false;
    let stream: RemoteCommand;
    let tooLong = 0;
    try {
      stream = await link.connection.exec(
        command,
        (line) => {
          if (line === 'ready') {
            ready = true;
            this.say(`following ${loop.name}: its changes are pulled as they happen`);
          } else if (line.startsWith('changed '))
            this.soon(loop.name, STREAM_GATHER_MS, 'remote', line.slice('changed '.length));
        },
        () => {
          // A line over the cap was dropped: whatever it said, a full pass finds it.
          if (++tooLong === 1 || tooLong % 1000 === 0)
            this.say(
              `${loop.name}: its change stream sent ${tooLong} line(s) over 4 KB: dropped; a full pass looks`,
            );
          this.soon(loop.name, STREAM_GATHER_MS, 'remote');
        },
      );
    } catch {
      return; // the connection is going away; the reconnect starts a new follower
    }
    loop.stream = stream;
    const code = await stream.exited;
    if (!ready && !this.stopped && loop.link === link) {
      const why = stream.stderr().trim().split('\n')[0] ?? '';
      this.say(
        `${loop.name} cannot stream its changes (${command}: exit ${code}${why ? `, ${why}` : ''}); pulling every ${this.mr.config.sync.interval}. Set hosts.${loop.name}.mailroom to the command that runs mailroom there.`,
      );
    }
    if (loop.link === link) loop.stream = undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const loop of this.hosts.values()) {
      loop.stream?.close();
      await loop.runner.stop();
      await loop.link?.close().catch(() => {});
    }
  }
}
