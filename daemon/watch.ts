// The only module that imports chokidar. A watcher event is only a hint that something under a path
// may have changed: the daemon answers every hint with a scan, and rescans periodically anyway, so a
// missed or duplicated event costs latency, never correctness.

import { basename } from 'node:path';
import { watch } from 'chokidar';

export interface Watcher {
  close(): Promise<void>;
}

/** Our own temp files and lock folders change on every write; they are never worth a pass. */
function noise(path: string): boolean {
  const name = basename(path);
  return (name.startsWith('.') && name !== '.') || name.endsWith('.lock') || path.includes('.lock/');
}

export async function watchPaths(
  paths: string[],
  onHint: (path: string) => void,
  opts: { polling?: boolean; onError?: (err: unknown) => void } = {},
): Promise<Watcher> {
  const watcher = watch(paths, {
    ignoreInitial: true,
    depth: 3,
    usePolling: opts.polling ?? false,
    interval: 200,
    ignored: (path: string) => noise(path),
  });
  watcher.on('all', (_event, path) => onHint(path));
  watcher.on('error', (err) => opts.onError?.(err));
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return { close: () => watcher.close() };
}
