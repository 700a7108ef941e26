// A far agent that stays (docs/sync.md, "A far agent that stays"). A one-shot `mailroom sync` used to
// start a far agent for every pass: a second Node start, its 2 MB state parsed, 10,000 `lstat`s, about
// 400 ms of a 1.3 s pass at 10,000 tasks. When the hub asks (its hello's `stay`, hosts.<h>.keep_agent),
// the far agent that served it leaves one behind as it ends: a detached `mailroom serve --root DIR
// --stay MS` that keeps the scan cache in memory, watches the agents' folders (so its listings are
// vouched for: watched-listings.ts), and listens on a Unix socket in a private folder. The hub's next
// connection reaches it with OpenSSH's `direct-streamlocal` (one round trip, no process started) and
// speaks the same protocol; anything else (no socket, a refused stream, a busy or outdated agent)
// falls back to starting one over exec, as before.
//
// Bounded: it ends after MS without a connection, when its socket, its root or its installation
// changes, when its watcher fails, or on SIGTERM; one per root and user (a second listener finds
// the first answering and ends); one connection at a time (another is closed at once: that hub
// starts its own agent). The socket's folder is the user's own (0700, not a link), so only that
// user's processes (and sshd acting for that user) can reach it: the same reach as running
// `mailroom serve` over exec.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, realpathSync, type Stats, statSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server as NetServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Endpoint } from '../endpoint/endpoint.js';
import { WatchedListings } from '../sync/watched-listings.js';
import { FarScanner } from './far-scan.js';
import { MAX_SOCKET_PATH } from './protocol.js';
import { ScanAheadTimer } from './scan-ahead.js';
import { serveAgent } from './serve.js';

/** How often an idle agent checks that its root and its installation are still what it started with. */
const CHECK_EVERY_MS = 30_000;
/** A connection that sends nothing this long after it opened is closed (it would hold the agent). */
const FIRST_BYTE_MS = 10_000;

/**
 * The folder for this user's far-agent sockets: `mailroom-<uid>` in `$TMPDIR` or `/tmp`; made 0700 if
 * missing, and taken only if it is a real folder of ours that nobody else may enter. Anything else:
 * undefined (no agent stays). Not `$XDG_RUNTIME_DIR`: systemd removes that folder when the user's
 * last session ends, which for a far host reached over SSH is as the hub hangs up.
 */
export function socketDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const tmp = env.TMPDIR?.startsWith('/') ? env.TMPDIR.replace(/\/+$/, '') || '/' : '/tmp';
  const dir = join(tmp, `mailroom-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Where the agent for `root` stays: one socket per root (its real path) and user; undefined if none. */
export function socketPathFor(root: string, dir = socketDir()): string | undefined {
  if (dir === undefined) return undefined;
  let real: string;
  try {
    real = realpathSync(root);
  } catch {
    return undefined;
  }
  const id = createHash('sha256').update(real).digest('hex').slice(0, 16);
  const path = join(dir, `serve-${id}.sock`);
  return path.length <= MAX_SOCKET_PATH ? path : undefined;
}

/** Does an agent answer on `path`? (A connection accepted; it is closed at once, without a hello.) */
export function answering(path: string, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection(path);
    const done = (yes: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(yes);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * Starts the agent that stays for `root`, detached (its own session, no stdio: sshd's channel can
 * close and the process that asked can end). The command is this process's own program and script.
 */
export function spawnResident(root: string, stayMs: number): void {
  const script = process.argv[1];
  if (script === undefined) return;
  const args = [...process.execArgv, script, 'serve', '--root', root, '--stay', String(stayMs)];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: 'ignore',
    cwd: '/',
  });
  child.on('error', () => {}); // nothing to report to: the next pass starts an agent over exec
  child.unref();
}

/**
 * What identifies this installation: the running script and the bundles beside it. An upgrade
 * replaces them; an agent that stayed from before then ends instead of answering (the hub starts
 * the new one over exec).
 */
function installStamp(): string {
  const script = process.argv[1];
  if (script === undefined) return '';
  const dir = dirname(script);
  return [script, join(dir, 'mailroom.cjs'), join(dir, 'serve.cjs')]
    .map((p) => {
      try {
        const st = statSync(p);
        return `${st.ino}:${st.size}:${st.mtimeMs}`;
      } catch {
        return '-';
      }
    })
    .join(' ');
}

export interface ResidentOptions {
  root: string;
  endpoint: Endpoint;
  stayMs: number;
  /** Starts the watcher on the agents' folders: paths relative to the root, and its failure. */
  watch: (
    onPath: (rel: string) => void,
    onError: (err: unknown) => void,
  ) => Promise<{ close(): Promise<void> }>;
  /** Where to listen (tests); default socketPathFor(root). */
  socketPath?: string;
  checkEveryMs?: number;
  firstByteMs?: number;
}

/** Runs the agent that stays until it ends (idle, outdated, root gone, watcher failed, or `stop`). */
export async function runResident(opts: ResidentOptions): Promise<{ stop(): void; ended: Promise<void> }> {
  const path = opts.socketPath ?? socketPathFor(opts.root);
  if (path === undefined) return { stop() {}, ended: Promise.resolve() };
  const stamp = installStamp();
  const scanner = new FarScanner(opts.endpoint);
  const listings = new WatchedListings();
  const subscribers = new Set<(rel: string) => void>();
  let watchFailed = false;
  let stayMs = opts.stayMs;
  let busy = false;
  let idle: NodeJS.Timeout | undefined;
  let check: NodeJS.Timeout | undefined;
  let ending = false;
  let endedResolve!: () => void;
  const ended = new Promise<void>((r) => {
    endedResolve = r;
  });
  let listened: Stats | undefined;
  /** The connection being served, and its serving (awaited by `end`: its locks and state file). */
  let active: { sock: Socket; served: Promise<void> } | undefined;
  const server: NetServer = createServer();

  const end = () => {
    if (ending) return;
    ending = true;
    ahead.stop();
    clearTimeout(idle);
    clearInterval(check);
    server.close();
    // Our socket only: another agent may have taken the path since.
    try {
      const st = lstatSync(path);
      if (listened && st.ino === listened.ino && st.dev === listened.dev) unlinkSync(path);
    } catch {}
    active?.sock.destroy(); // its hub sees the channel end; what is in hand finishes first
    void Promise.resolve(watcher?.close())
      .catch(() => {})
      .then(() => active?.served)
      .then(() => scanner.settled())
      .catch(() => {})
      .then(endedResolve);
  };
  const outdated = () => {
    try {
      // Its socket removed or replaced (a cleaner of temporary files, a person): nobody can reach it.
      const sock = listened ? lstatSync(path) : undefined;
      if (listened && (sock?.ino !== listened.ino || sock.dev !== listened.dev)) return true;
      return !lstatSync(opts.root).isDirectory() || installStamp() !== stamp;
    } catch {
      return true;
    }
  };
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(end, stayMs);
  };

  // Between connections it scans ahead whenever its folders have changed and gone quiet, so the
  // next hub's manifest is ready as it asks (docs/sync.md, "Scanning ahead").
  const ahead = new ScanAheadTimer(
    () => {
      opts.endpoint.newPass?.();
      return scanner.scanAheadForLast();
    },
    () => !busy,
  );
  let watcher: { close(): Promise<void> } | undefined;
  watcher = await opts.watch(
    (rel) => {
      listings.hint(rel);
      for (const s of subscribers) s(rel);
      if (!busy) ahead.poke();
    },
    () => {
      watchFailed = true;
      listings.stop();
      if (!busy) end();
    },
  );
  listings.start();
  scanner.watched = listings;
  // The state file the last agent left, and one scan of the folders it described: the first hub
  // that comes gets a reply from listings the watcher vouches for.
  await scanner.warm().catch(() => {});

  server.maxConnections = 1; // another connection is closed at once: its hub starts its own agent
  server.on('connection', (sock: Socket) => {
    if (ending || outdated()) {
      sock.destroy();
      end();
      return;
    }
    busy = true;
    clearTimeout(idle);
    sock.on('error', () => {});
    // Until the hello comes; after it, a daemon's connection may be quiet for as long as it likes.
    sock.setTimeout(opts.firstByteMs ?? FIRST_BYTE_MS, () => sock.destroy());
    sock.once('data', () => sock.setTimeout(0));
    const served = serveAgent({
      endpoint: opts.endpoint,
      input: sock,
      output: sock,
      scanner,
      watch: async (onPath) => {
        subscribers.add(onPath);
        return { close: async () => void subscribers.delete(onPath) };
      },
      stay: (ms) => {
        stayMs = ms;
        return path;
      },
    })
      .catch(() => {})
      .then(() => {
        sock.destroy();
        active = undefined;
        busy = false;
        if (ending) return;
        if (watchFailed) end();
        else {
          armIdle();
          ahead.poke(); // the pass's own writes are in: the next one finds its scan made
        }
      });
    active = { sock, served };
  });

  if (!(await listenOnce(server, path))) {
    ending = true;
    await watcher.close().catch(() => {});
    return { stop() {}, ended: Promise.resolve() };
  }
  server.on('error', end);
  try {
    listened = lstatSync(path);
  } catch {}
  armIdle();
  check = setInterval(() => {
    if (!busy && outdated()) end();
  }, opts.checkEveryMs ?? CHECK_EVERY_MS);
  return { stop: end, ended };
}

/**
 * Listens on `path` unless another agent answers there. A socket file nobody answers on (an agent
 * killed with -9) is ours to replace, if it is a socket.
 */
async function listenOnce(server: NetServer, path: string): Promise<boolean> {
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  try {
    await listen();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') return false;
  }
  if (await answering(path)) return false;
  try {
    if (!lstatSync(path).isSocket()) return false;
    unlinkSync(path);
    await listen();
    return true;
  } catch {
    return false;
  }
}
