// Checks the TARGET of `mailroom host add`: `user@host[:port]` or a bare ~/.ssh/config alias.
// Only the shape is checked here; resolving aliases and connecting belong to the SSH layer.

import { usageError } from '../errors.js';

const TARGET = /^(?:([A-Za-z0-9._][A-Za-z0-9._-]*)@)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;

export function parseTarget(target: string): { user?: string; host: string; port?: number } {
  const m = TARGET.exec(target);
  const port = m?.[3] === undefined ? undefined : Number(m[3]);
  if (!m || m[2]!.startsWith('-') || (port !== undefined && (port < 1 || port > 65535))) {
    throw usageError(
      `invalid ssh target ${JSON.stringify(target)}`,
      'use user@host, user@host:port or an alias from ~/.ssh/config',
    );
  }
  const out: { user?: string; host: string; port?: number } = { host: m[2]! };
  if (m[1] !== undefined) out.user = m[1];
  if (port !== undefined) out.port = port;
  return out;
}
