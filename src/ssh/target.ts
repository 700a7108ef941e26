// Parsing of the TARGET a user gives to `mailroom host add` (docs/spec.md §4): `user@host[:port]`,
// `host:port`, a bare `~/.ssh/config` alias, or an IPv6 address in brackets (`user@[::1]:2222`).
// Invariant: a parsed target holds only characters that are safe in a host name, a user name and a
// port number — nothing that could look like an option (`-oProxyCommand=...`) or a path.

import { usageError } from '../errors.js';

export interface SshTarget {
  /** Present when the target named one; else ssh_config's `User`, else the local user. */
  readonly user?: string;
  /** A host name, IP address or ssh_config alias (IPv6 without brackets). */
  readonly host: string;
  /** Present when the target named one; else ssh_config's `Port`, else 22. */
  readonly port?: number;
}

const USER = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;
const HOST = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,252}$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

const SHAPE_HINT = 'write the target as user@host, user@host:port, host:port or an alias from ~/.ssh/config';

export function parseTarget(text: string): SshTarget {
  const bad = (why: string) => usageError(`invalid SSH target ${JSON.stringify(text)}: ${why}`, SHAPE_HINT);
  const s = text.trim();
  if (s === '') throw bad('it is empty');

  const at = s.indexOf('@');
  if (at !== s.lastIndexOf('@')) throw bad('it holds more than one "@"');
  const user = at === -1 ? undefined : s.slice(0, at);
  const rest = at === -1 ? s : s.slice(at + 1);
  if (user !== undefined && !USER.test(user))
    throw bad(`the user ${JSON.stringify(user)} is not a valid user name`);

  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) throw bad('"[" without "]"');
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw bad(`unexpected ${JSON.stringify(after)} after "]"`);
    portText = after === '' ? undefined : after.slice(1);
    if (!IPV6.test(host) || !host.includes(':')) throw bad(`${JSON.stringify(host)} is not an IPv6 address`);
  } else {
    const colon = rest.indexOf(':');
    if (colon !== rest.lastIndexOf(':'))
      throw bad('an IPv6 address must be written in brackets, like [::1]:22');
    host = colon === -1 ? rest : rest.slice(0, colon);
    portText = colon === -1 ? undefined : rest.slice(colon + 1);
    if (!HOST.test(host)) throw bad(`${JSON.stringify(host)} is not a valid host name`);
  }

  const port = portText === undefined ? undefined : parsePort(portText);
  if (port === null) throw bad(`the port ${JSON.stringify(portText)} is not a number from 1 to 65535`);

  return { ...(user !== undefined && { user }), host, ...(port !== undefined && { port }) };
}

/** A port number 1..65535 written in plain decimal, or null. */
export function parsePort(text: string): number | null {
  if (!/^[0-9]{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : null;
}

/** The target written back in the form parseTarget reads. */
export function formatTarget(t: SshTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  const hostPort = t.port === undefined ? host : `${host}:${t.port}`;
  return t.user === undefined ? hostPort : `${t.user}@${hostPort}`;
}
