// `mailroom serve --root DIR`: the far agent a hub starts over SSH (docs/sync.md, "The far agent").
// It speaks the framed protocol on stdin/stdout and nothing else there; it ends when its stdin
// closes, which is what happens when the SSH channel goes away: no orphans.

import { resolve } from 'node:path';
import { watchPaths } from '../../daemon/watch.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import { serveAgent } from '../../src/remote/serve.js';
import { findRoot } from '../../src/root.js';
import { Layout } from '../../src/store/layout.js';
import type { CommonOptions } from '../context.js';
import { tuneForLongRunning } from '../long-running.js';
import { onStopSignal } from '../stop-signal.js';

export async function serve(opts: CommonOptions): Promise<void> {
  tuneForLongRunning();
  // A far machine may have only the folder (no mailroom.yaml): --root is taken as given.
  const layout = new Layout(opts.root ? resolve(opts.root) : findRoot(undefined));
  onStopSignal(['SIGTERM', 'SIGHUP'], () => process.stdin.destroy());
  await serveAgent({
    endpoint: localEndpoint(layout.root, { label: layout.root }),
    input: process.stdin,
    output: process.stdout,
    watch: (onPath, onError) =>
      watchPaths([layout.agentsDir], (path) => onPath(layout.rel(path)), { onError }),
  });
}
