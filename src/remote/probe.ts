// Starting the far agent: `<hosts.<h>.mailroom> serve --root <root>` on an exec channel of the
// host's SSH connection, then the handshake. A far side without mailroom (or without `serve`) ends
// the channel before answering: that is `missing`, and the caller falls back to SFTP. A protocol
// mismatch is refused with the side to upgrade; it is not papered over with SFTP.

import { MailroomError } from '../errors.js';
import type { SshConnection } from '../ssh/connect.js';
import { AgentClient, AgentMissing } from './client.js';

/** A path for the far shell: quoted, with a leading ~ left to the far shell's $HOME. */
export function shellPath(path: string): string {
  const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  if (path === '~') return '"$HOME"';
  if (path.startsWith('~/')) return `"$HOME"/${quote(path.slice(2))}`;
  return quote(path);
}

/** The far command line; `command` is configuration (hosts.<h>.mailroom), never file contents. */
export const serveCommand = (command: string, root: string): string =>
  `${command} serve --root ${shellPath(root)}`;

/**
 * How long a far agent that stays has to answer the handshake on its socket: it is running already,
 * so anything slower (stopped, swapping) is passed over for a new agent started over exec.
 */
const KEPT_HELLO_TIMEOUT_MS = 5_000;

export type AgentStart =
  | { kind: 'agent'; client: AgentClient /** reached on its socket (it had stayed) */; kept: boolean }
  | { kind: 'missing'; reason: string };

/** Starts the far agent; `missing` when there is none to start. Throws on a refused handshake. */
export async function startAgent(
  connection: SshConnection,
  opts: {
    host: string;
    command: string;
    root: string;
    agents?: readonly string[];
    prefetchManifest?: boolean;
    manifestSince?: string;
    /** Called once the hub's hello is written (AgentClientOptions.onHelloSent). */
    onHelloSent?: () => void;
    /** Ask the agent to stay this long after the connection (AgentClientOptions.stayMs). */
    stayMs?: number;
    /** A far agent that stayed is expected on this socket: tried first (resident.ts). */
    keptSocket?: string;
  },
): Promise<AgentStart> {
  const clientOpts = {
    host: opts.host,
    command: opts.command,
    ...(opts.agents ? { agents: opts.agents } : {}),
    ...(opts.prefetchManifest ? { prefetchManifest: true } : {}),
    ...(opts.manifestSince ? { manifestSince: opts.manifestSince } : {}),
    ...(opts.onHelloSent ? { onHelloSent: opts.onHelloSent } : {}),
    ...(opts.stayMs ? { stayMs: opts.stayMs } : {}),
  };
  if (opts.keptSocket !== undefined) {
    // Anything but a handshake (no socket, a stream refused or closed: busy, outdated, ending; a
    // protocol it does not speak) passes over to a new agent started over exec.
    const kept = await connection.streamLocal(opts.keptSocket).catch(() => undefined);
    if (kept)
      try {
        const client = await AgentClient.start(kept, {
          ...clientOpts,
          helloTimeoutMs: KEPT_HELLO_TIMEOUT_MS,
        });
        return { kind: 'agent', client, kept: true };
      } catch {
        kept.close();
      }
  }
  const line = serveCommand(opts.command, opts.root);
  const channel = await connection.channel(line);
  try {
    const client = await AgentClient.start(channel, clientOpts);
    return { kind: 'agent', client, kept: false };
  } catch (err) {
    channel.close();
    if (err instanceof AgentMissing) return { kind: 'missing', reason: err.message };
    throw err;
  }
}

/**
 * For `mailroom host init` and status: which mailroom answers on the far side, without keeping it.
 * `{ version }` when an agent answered, `{ missing }` when none did (sync uses SFTP there).
 */
export async function probeFarAgent(
  connection: SshConnection,
  command: string,
  root: string,
  host = connection.label,
): Promise<{ version: string } | { missing: string }> {
  try {
    const r = await startAgent(connection, { host, command, root });
    if (r.kind === 'missing') return { missing: r.reason };
    r.client.close();
    return { version: r.client.farVersion };
  } catch (err) {
    if (err instanceof MailroomError && err.kind === 'refused') throw err;
    return { missing: err instanceof Error ? err.message : String(err) };
  }
}
