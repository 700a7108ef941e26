// `mailroom serve --root DIR`: the far agent a hub starts over SSH (docs/sync.md, "The far agent").
// It speaks the framed protocol on stdin/stdout and nothing else there; it ends when its stdin
// closes, which is what happens when the SSH channel goes away. When the hub asked for it (its
// hello's `stay`), it leaves behind one agent that stays, detached and bounded (src/remote/resident.ts):
// `mailroom serve --root DIR --stay MS`, which the hub's next connection reaches over a Unix socket.

import { resolve } from 'node:path';
import { watchPaths } from '../../daemon/watch.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import { answering, runResident, socketPathFor, spawnResident } from '../../src/remote/resident.js';
import { serveAgent } from '../../src/remote/serve.js';
import { findRoot } from '../../src/root.js';
import { Layout } from '../../src/store/layout.js';
import type { CommonOptions } from '../context.js';
import { tuneForLongRunning } from '../long-running.js';
import { onStopSignal } from '../stop-signal.js';

export async function serve(opts: CommonOptions & { stay?: string }): Promise<void> {
  tuneForLongRunning();
  // A far machine may have only the folder (no mailroom.yaml): --root is taken as given.
  const layout = new Layout(opts.root ? resolve(opts.root) : findRoot(undefined));
  const endpoint = localEndpoint(layout.root, { label: layout.root });
  const watch = (onPath: (rel: string) => void, onError: (err: unknown) => void) =>
    watchPaths([layout.agentsDir], (path) => onPath(layout.rel(path)), { onError });
  if (opts.stay !== undefined) {
    const stayMs = Number(opts.stay);
    if (!Number.isSafeInteger(stayMs) || stayMs <= 0) throw new Error('--stay takes milliseconds');
    const resident = await runResident({ root: layout.root, endpoint, stayMs, watch });
    onStopSignal(['SIGTERM', 'SIGHUP', 'SIGINT'], () => resident.stop());
    await resident.ended;
    return;
  }
  let stayMs = 0;
  let socket: string | undefined;
  onStopSignal(['SIGTERM', 'SIGHUP'], () => process.stdin.destroy());
  await serveAgent({
    endpoint,
    input: process.stdin,
    output: process.stdout,
    watch,
    stay: (ms) => {
      socket ??= socketPathFor(layout.root);
      if (socket !== undefined) stayMs = ms;
      return socket;
    },
  });
  // The hub has hung up and this agent's state is written: the one that stays reads it.
  if (socket !== undefined && stayMs > 0 && !(await answering(socket))) spawnResident(layout.root, stayMs);
}
