// How a long-running command is stopped: the first signal asks it to finish cleanly; a second one
// ends the process at once (exit 128 + the signal's number, as the signal itself would).
//
// The listeners stay registered (process.on, never once). signal-exit, which proper-lockfile loads
// with the first lock taken, re-raises a signal when it finds its own listener the only one left:
// with `once`, our listener was already gone while the clean stop ran, and whether the daemon
// stopped cleanly (exit 0) or died of its own SIGTERM (143) depended on which was loaded first.

import { constants } from 'node:os';

export function onStopSignal(signals: readonly NodeJS.Signals[], stop: () => void): void {
  let asked = false;
  for (const signal of signals)
    process.on(signal, () => {
      if (asked) process.exit(128 + (constants.signals[signal] ?? 0));
      asked = true;
      stop();
    });
}
