// Sleeping until something happens to an agent's folders, without polling: a file event (through
// daemon/watch.ts, the one watcher adapter) wakes the waiter, which then asks `probe` what is true.
// Events are hints, the probe is the truth: a rescan every few seconds covers a missed event, and the
// watcher is started before the first probe, so nothing that happens in between is missed.

import { watchPaths } from '../daemon/watch.js';

export interface WaitOptions {
  /** Give up after this long; undefined waits until something comes. */
  timeoutMs?: number;
  /** How often to probe without an event (a missed event costs at most this). */
  rescanMs?: number;
  /** Stops the wait early (the MCP client cancelled, say): resolves undefined. */
  signal?: AbortSignal;
  /** Called once, the first time the waiter goes to sleep (a CLI says so on stderr). */
  onSleep?: () => void;
}

/** Resolves with the first value `probe` gives, or undefined when the time is up. */
export async function waitFor<T>(
  paths: string[],
  probe: () => Promise<T | undefined>,
  opts: WaitOptions = {},
): Promise<T | undefined> {
  let wake: (() => void) | undefined;
  let dirty = false;
  const hint = () => {
    dirty = true;
    wake?.();
  };
  const watcher = await watchPaths(paths, hint);
  const deadline = opts.timeoutMs === undefined ? undefined : Date.now() + opts.timeoutMs;
  const rescanMs = opts.rescanMs ?? 5_000;
  opts.signal?.addEventListener('abort', hint);
  try {
    for (;;) {
      dirty = false;
      const value = await probe();
      if (value !== undefined) return value;
      if (opts.signal?.aborted) return undefined;
      const left = deadline === undefined ? rescanMs : Math.min(rescanMs, deadline - Date.now());
      if (left <= 0) return undefined;
      if (!dirty) {
        opts.onSleep?.();
        opts.onSleep = undefined;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    }
  } finally {
    opts.signal?.removeEventListener('abort', hint);
    await watcher.close();
  }
}
