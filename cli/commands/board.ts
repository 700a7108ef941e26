// Handler for `mailroom board [--port N] [--open]`: start the board (board/server.ts), print its URL
// (the token is in it), optionally open a browser on it, and run until SIGINT/SIGTERM.

import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { startBoard } from '../../board/server.js';
import { usageError } from '../../src/errors.js';
import { requireAgent } from '../../src/mailroom.js';
import { actingAs, type CommonOptions, open } from '../context.js';
import { tuneForLongRunning } from '../long-running.js';
import { println, warn } from '../output.js';
import { onStopSignal } from '../stop-signal.js';

function parsePort(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw usageError(
      `invalid --port ${JSON.stringify(raw)}`,
      'give a port number from 1 to 65535 (0: any free port)',
    );
  return n;
}

/** The platform's opener, with the URL as one argument (no shell). */
function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => warn(`could not start ${cmd}; open the URL above yourself`));
  child.unref();
}

function lowerPriority(): void {
  try {
    setPriority(10);
  } catch {
    // not allowed here (some containers): it runs at normal priority
  }
}

export async function board(
  opts: CommonOptions & { port?: string; open?: boolean; polling?: boolean },
): Promise<void> {
  tuneForLongRunning();
  const mr = await open(opts);
  const as = requireAgent(mr, actingAs(opts) ?? mr.config.escalate_to);
  const b = await startBoard(mr, { port: parsePort(opts.port), as, polling: opts.polling === true });
  // The first picture is built at once (a person opening the URL finds it ready, or joins the build)
  // and at normal priority: it is the one a person waits for. After it, a page for people must never
  // take CPU from the daemon's routing: the board runs at a lower priority (docs/performance.md).
  void b.model
    .snapshot()
    .catch(() => {}) // a page asking for it gets the error
    .finally(lowerPriority);
  println(`mailroom board: ${b.url}`);
  warn(`acting as ${as}; listening on 127.0.0.1 only. Ctrl-C stops it.`);
  if (opts.open) openBrowser(b.url);
  await new Promise<void>((resolve) => {
    onStopSignal(['SIGINT', 'SIGTERM'], resolve);
  });
  await b.close();
}
