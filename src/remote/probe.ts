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

export type AgentStart = { kind: 'agent'; client: AgentClient } | { kind: 'missing'; reason: string };

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
  },
): Promise<AgentStart> {
  const line = serveCommand(opts.command, opts.root);
  const channel = await connection.channel(line);
  try {
    const client = await AgentClient.start(channel, {
      host: opts.host,
      command: opts.command,
      ...(opts.agents ? { agents: opts.agents } : {}),
      ...(opts.prefetchManifest ? { prefetchManifest: true } : {}),
      ...(opts.manifestSince ? { manifestSince: opts.manifestSince } : {}),
      ...(opts.onHelloSent ? { onHelloSent: opts.onHelloSent } : {}),
    });
    return { kind: 'agent', client };
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
