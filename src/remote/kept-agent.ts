// The hub's note of a far agent that stays (resident.ts; docs/sync.md, "A far agent that stays"):
// .mailroom/sync/<host>.far-agent.json, {"socket", "until"}: where the far agent said it would wait
// for the next connection, and until when that is expected. Advisory: a missing, old or wrong note
// costs one round trip (the stream is refused) and the far agent is started over exec as before.
// The socket's path comes from the far side, so it is checked before it is used (only ever as the
// path of a `direct-streamlocal` request to that same far sshd, never on this machine).

import { readFileSync } from 'node:fs';
import type { HostConfig } from '../config/schema.js';
import { parseDurationMs } from '../duration.js';
import { writeFileAtomic } from '../store/atomic.js';
import { MAX_SOCKET_PATH, MAX_STAY_MS } from './protocol.js';

/** hosts.<h>.keep_agent when it is not set, and $MAILROOM_KEEP_AGENT is not either. */
export const DEFAULT_KEEP_AGENT_MS = 10 * 60_000;

/** How long a far agent should stay after a pass (ms; 0: it ends with the connection). */
export function keepAgentMs(
  host: Pick<HostConfig, 'keep_agent'>,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const text = host.keep_agent ?? env.MAILROOM_KEEP_AGENT;
  const ms = text === undefined ? undefined : parseDurationMs(text);
  return Math.min(ms ?? DEFAULT_KEEP_AGENT_MS, MAX_STAY_MS);
}

/** A socket path as a far agent may name it: absolute, bounded, printable, `.sock`. */
export function isSocketPath(path: unknown): path is string {
  return (
    typeof path === 'string' &&
    path.length <= MAX_SOCKET_PATH &&
    path.startsWith('/') &&
    path.endsWith('.sock') &&
    !path.includes('/../') &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
    !/[\u0000-\u001f\u007f]/.test(path)
  );
}

/** The socket of a far agent expected to be there now, from the note at `file`; else undefined. */
export function keptAgentSocket(file: string, now = Date.now()): string | undefined {
  try {
    const note = JSON.parse(readFileSync(file, 'utf8')) as { socket?: unknown; until?: unknown };
    return isSocketPath(note.socket) && typeof note.until === 'number' && now < note.until
      ? note.socket
      : undefined;
  } catch {
    return undefined;
  }
}

/** Notes that a far agent will wait on `socket` for `stayMs` after this connection. */
export function noteKeptAgent(file: string, socket: string, stayMs: number, now = Date.now()): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify({ socket, until: now + stayMs })}\n`, { mkdir: true });
}
