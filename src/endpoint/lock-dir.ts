// proper-lockfile's protocol, over any endpoint: the lock on `<file>` is the folder `<file>.lock`
// (mkdir is atomic on both a local disk and over SFTP); its holder refreshes the folder's mtime every
// staleMs/2 (at least every second); a lock whose mtime is older than staleMs is stale and may be
// taken over. Invariant: staleness is judged on the endpoint's OWN clock — the far side's time is
// learned from an mtime it stamped itself and extrapolated with our monotonic clock, so the wall
// clocks of two machines are never compared.

import { setTimeout as delay } from 'node:timers/promises';
import { notFound, refused } from '../errors.js';
import type { LockOptions, ReleaseLock } from './endpoint.js';

/** What the lock needs from an endpoint; paths are validated relative paths. */
export interface LockFs {
  readonly label: string;
  /** Granularity of mtimes this endpoint reports: 1 locally, 1000 over SFTP v3. */
  readonly mtimeResolutionMs: number;
  /** mkdir of exactly this folder. */
  mkdirOnce(rel: string): Promise<'created' | 'exists' | 'noParent'>;
  /**
   * Optional: mkdirOnce and then mtimeOf of the same folder, sent together where requests are carried
   * out in the order sent (one SFTP channel): the look costs no round trip of its own. `mtime` may be
   * undefined (a server that looked first): then it is looked at again.
   */
  mkdirThenMtime?(
    rel: string,
  ): Promise<{ made: 'created' | 'exists' | 'noParent'; mtime: number | undefined }>;
  mkdirp(rel: string): Promise<void>;
  /** undefined when nothing is there. */
  mtimeOf(rel: string): Promise<number | undefined>;
  setMtime(rel: string, mtimeMs: number): Promise<void>;
  /** Removes the (empty) lock folder; missing is fine. */
  rmdir(rel: string): Promise<void>;
  /** The endpoint's clock now, e.g. the mtime of a file just created beside `nearRel`. */
  clockNow(nearRel: string): Promise<number>;
}

const DEFAULT_STALE_MS = 10_000;
const FIRST_POLL_MS = 50;
const MAX_POLL_MS = 1_000;

export async function acquireLock(fs: LockFs, rel: string, opts: LockOptions = {}): Promise<ReleaseLock> {
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const timeoutMs = opts.timeoutMs ?? staleMs + 5_000;
  const lockRel = `${rel}.lock`;
  const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
  const started = performance.now();
  const clock = new EndpointClock(() => fs.clockNow(lockRel));
  let pollMs = FIRST_POLL_MS;
  let madeParent = false;
  let vanished = 0;

  for (;;) {
    const tried = fs.mkdirThenMtime
      ? await fs.mkdirThenMtime(lockRel)
      : { made: await fs.mkdirOnce(lockRel), mtime: undefined };
    const { made } = tried;
    if (made === 'noParent') {
      if (madeParent || parent === '')
        throw notFound(`${fs.label}: cannot lock ${rel}: its folder does not exist`);
      madeParent = true;
      await fs.mkdirp(parent);
      continue;
    }
    if (made === 'created') {
      const stamped = tried.mtime ?? (await fs.mtimeOf(lockRel));
      // The new folder's mtime is the endpoint's "now": it calibrates the clock for refreshes.
      if (stamped !== undefined) clock.calibrate(stamped);
      return holdLock(fs, lockRel, stamped ?? (await clock.now()), staleMs, clock);
    }

    const mtime = tried.mtime ?? (await fs.mtimeOf(lockRel));
    if (mtime !== undefined && mtime < (await clock.now()) - staleMs) {
      // Stale: remove and retry. Re-reading the mtime right before the removal narrows (it cannot
      // close, as in proper-lockfile) the window in which two takers could remove each other's lock.
      if ((await fs.mtimeOf(lockRel)) === mtime) await fs.rmdir(lockRel);
      continue;
    }
    // Released between our mkdir and our look: try again at once — but only a few times, so that a
    // mkdir failing for another reason (SFTP v3 reports most failures alike) cannot spin.
    if (mtime === undefined && ++vanished <= 3) continue;

    const left = timeoutMs - (performance.now() - started);
    if (left <= 0) {
      throw refused(
        `${fs.label}: ${rel} is locked by another process (${lockRel} held for more than ${Math.round(timeoutMs / 1000)}s)`,
        `if no mailroom process is running there, the lock goes stale ${Math.round(staleMs / 1000)}s after its holder stopped; mailroom doctor reports stale locks`,
      );
    }
    // Polling with a deadline: there is no event to wait for on a far host.
    await delay(Math.min(pollMs, left));
    pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
  }
}

/** The endpoint's clock, read once and then advanced with our monotonic clock. */
class EndpointClock {
  private base: { endpointMs: number; localMs: number } | undefined;

  constructor(private readonly read: () => Promise<number>) {}

  calibrate(endpointMs: number): void {
    this.base = { endpointMs, localMs: performance.now() };
  }

  async now(): Promise<number> {
    if (this.base === undefined) this.calibrate(await this.read());
    const b = this.base!;
    return b.endpointMs + (performance.now() - b.localMs);
  }
}

function holdLock(
  fs: LockFs,
  lockRel: string,
  createdMtime: number,
  staleMs: number,
  clock: EndpointClock,
): ReleaseLock {
  // proper-lockfile's update interval: half the stale time, at least one second.
  const updateMs = Math.max(Math.min(staleMs / 2, 5_000), 1_000);
  const tolerance = fs.mtimeResolutionMs + 1;
  let ours = createdMtime;
  let lastRefresh = performance.now();
  let compromised: string | undefined;
  let released = false;
  let refreshing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const refresh = async () => {
    try {
      const seen = await fs.mtimeOf(lockRel);
      if (seen === undefined || Math.abs(seen - ours) > tolerance) {
        compromised = seen === undefined ? 'it was removed' : 'another process took it over';
        return;
      }
      const now = await clock.now();
      await fs.setMtime(lockRel, now);
      ours = fs.mtimeResolutionMs >= 1000 ? Math.round(now / 1000) * 1000 : now;
      lastRefresh = performance.now();
    } catch (err) {
      // A failed refresh (connection hiccup) is retried; only past the stale time is the lock lost.
      if (performance.now() - lastRefresh > staleMs)
        compromised = `it could not be refreshed (${(err as Error).message})`;
    }
  };
  const schedule = () => {
    timer = setTimeout(() => {
      refreshing = refresh().finally(() => {
        refreshing = undefined;
        if (!released && compromised === undefined) schedule();
      });
    }, updateMs);
    // A held lock must not keep the process alive by itself.
    timer.unref();
  };
  schedule();

  return async () => {
    if (released) return;
    released = true;
    clearTimeout(timer);
    await refreshing;
    if (compromised === undefined) {
      const seen = await fs.mtimeOf(lockRel);
      if (seen !== undefined && Math.abs(seen - ours) > tolerance)
        compromised = 'another process took it over';
      else if (seen !== undefined) await fs.rmdir(lockRel);
    }
    if (compromised !== undefined) {
      throw refused(
        `${fs.label}: lost the lock ${lockRel} while holding it: ${compromised}`,
        'the next pass redoes the work',
      );
    }
  };
}
