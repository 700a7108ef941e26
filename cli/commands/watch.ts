// `mailroom watch`: prints `changed <path>` for every change under agents/, for a hub following this
// machine over SSH (so its pulls are near-instant instead of waiting for the interval). Ends when its
// standard input closes, which is what happens when the SSH channel goes away: no orphans.

import { resolve } from 'node:path';
import { watchPaths } from '../../daemon/watch.js';
import { findRoot } from '../../src/root.js';
import { Layout } from '../../src/store/layout.js';
import type { CommonOptions } from '../context.js';
import { tuneForLongRunning } from '../long-running.js';
import { onStopSignal } from '../stop-signal.js';

export async function watch(opts: CommonOptions): Promise<void> {
  tuneForLongRunning();
  // A far machine may have only the folder (no mailroom.yaml): --root is taken as given.
  const layout = new Layout(opts.root ? resolve(opts.root) : findRoot(undefined));
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const watcher = await watchPaths([layout.agentsDir], (path) => out(`changed ${layout.rel(path)}`));
  out('ready');
  await new Promise<void>((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('close', resolve);
    onStopSignal(['SIGTERM', 'SIGHUP'], resolve);
    process.stdin.resume();
  });
  await watcher.close();
}
