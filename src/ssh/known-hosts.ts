// Host key verification against an OpenSSH known_hosts text, pure. The invariant: a key is accepted
// only when a plain (unmarked) line for this host and port carries exactly that key, and never when a
// `@revoked` line names it. Everything else is refused with a message saying what to do:
// an unknown host gets the `ssh-keyscan` line to add it, a changed key gets a loud warning.

import { createHash, createHmac } from 'node:crypto';
import { matchPatternList } from './host-pattern.js';

export type KnownHostsMarker = 'revoked' | 'cert-authority';

export interface KnownHostsEntry {
  /** 1-based line number, for messages. */
  readonly line: number;
  readonly marker?: KnownHostsMarker;
  /** The host field as written: `a,b,[c]:2222`, or a hashed `|1|salt|hash`. */
  readonly hosts: string;
  readonly keyType: string;
  readonly keyBase64: string;
}

export interface KnownHostsProblem {
  readonly line: number;
  readonly reason: string;
}

export function parseKnownHosts(text: string): { entries: KnownHostsEntry[]; problems: KnownHostsProblem[] } {
  const entries: KnownHostsEntry[] = [];
  const problems: KnownHostsProblem[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const words = trimmed.split(/\s+/);
    let marker: KnownHostsMarker | undefined;
    if (words[0]?.startsWith('@')) {
      const m = words.shift()!.slice(1);
      if (m !== 'revoked' && m !== 'cert-authority') {
        problems.push({ line, reason: `unknown marker @${m}` });
        return;
      }
      marker = m;
    }
    const [hosts, keyType, keyBase64] = words;
    if (hosts === undefined || keyType === undefined || keyBase64 === undefined) {
      problems.push({ line, reason: 'expected "hosts key-type base64-key"' });
      return;
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) {
      problems.push({ line, reason: 'the key is not base64' });
      return;
    }
    entries.push({ line, ...(marker !== undefined && { marker }), hosts, keyType, keyBase64 });
  });
  return { entries, problems };
}

/** The name known_hosts files use for a host: `host` on port 22, `[host]:port` elsewhere. */
export function hostKeyName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Does the entry's host field name `name` (as produced by hostKeyName)? Handles hashed fields. */
export function entryNamesHost(entry: KnownHostsEntry, name: string): boolean {
  if (entry.hosts.startsWith('|1|')) {
    const [, , salt, hash] = entry.hosts.split('|');
    if (salt === undefined || hash === undefined) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    return mac.equals(Buffer.from(hash, 'base64'));
  }
  return matchPatternList(name, entry.hosts.split(','));
}

/** The fingerprint `ssh-keygen -lf` prints: SHA256 of the key blob, unpadded base64. */
export function keyFingerprint(keyBase64: string): string {
  const digest = createHash('sha256').update(Buffer.from(keyBase64, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

const sameKey = (a: string, b: string) => Buffer.from(a, 'base64').equals(Buffer.from(b, 'base64'));

export type HostKeyVerdict =
  | { readonly ok: true; readonly line: number }
  | {
      readonly ok: false;
      readonly reason: 'unknown' | 'changed' | 'revoked';
      /** One or two sentences for the person; names host, port, file and fingerprint. */
      readonly message: string;
      /** A command line that fixes it (after checking the fingerprint). */
      readonly fix: string;
    };

export interface CheckOptions {
  /** Shown in messages and used in the fix line; default `~/.ssh/known_hosts`. */
  readonly knownHostsPath?: string;
}

export function checkHostKey(
  knownHostsText: string,
  host: string,
  port: number,
  keyType: string,
  keyBase64: string,
  opts: CheckOptions = {},
): HostKeyVerdict {
  const file = opts.knownHostsPath ?? '~/.ssh/known_hosts';
  const name = hostKeyName(host, port);
  const fingerprint = keyFingerprint(keyBase64);
  const { entries } = parseKnownHosts(knownHostsText);

  // A revoked key is refused whichever host its line names: it must never be accepted anywhere.
  const revoked = entries.find((e) => e.marker === 'revoked' && sameKey(e.keyBase64, keyBase64));
  if (revoked !== undefined) {
    return {
      ok: false,
      reason: 'revoked',
      message: `REFUSED: the host key of ${name} (${keyType} ${fingerprint}) is marked @revoked in ${file} line ${revoked.line}`,
      fix: `ask the administrator of ${host} for its new host key; do not remove the @revoked line`,
    };
  }

  // @cert-authority lines vouch for certificates, which mailroom does not accept: they prove nothing here.
  const forHost = entries.filter((e) => e.marker === undefined && entryNamesHost(e, name));
  const match = forHost.find((e) => e.keyType === keyType && sameKey(e.keyBase64, keyBase64));
  if (match !== undefined) return { ok: true, line: match.line };

  const sameType = forHost.filter((e) => e.keyType === keyType);
  if (sameType.length > 0) {
    const lines = sameType.map((e) => e.line).join(', ');
    return {
      ok: false,
      reason: 'changed',
      message:
        `WARNING: THE HOST KEY OF ${name} HAS CHANGED. Someone may be intercepting the connection (man-in-the-middle), ` +
        `or the host was reinstalled. It now offers ${keyType} ${fingerprint}; ${file} line ${lines} says otherwise. Refusing to connect.`,
      fix: `only after confirming the new fingerprint with the host's administrator: ssh-keygen -R ${shellQuote(name)} -f ${shellQuote(file)} && ${keyscan(host, port, file)}`,
    };
  }

  // Known by another key type only: mailroom asked for the known type first, so a host that does not
  // offer it now may not be that host at all. Never the keyscan line: it would trust the impostor.
  const otherTypes = [...new Set(forHost.map((e) => e.keyType))];
  if (otherTypes.length > 0)
    return {
      ok: false,
      reason: 'changed',
      message:
        `WARNING: ${name} offered a ${keyType} key (${fingerprint}), but ${file} knows only its ${otherTypes.join(', ')} key. ` +
        'This may be an impostor (man-in-the-middle), or the host changed its keys. Refusing to connect.',
      fix: `confirm the new key's fingerprint with the host's administrator before adding it to ${file}`,
    };
  return {
    ok: false,
    reason: 'unknown',
    message: `the host key of ${name} (${keyType} ${fingerprint}) is not in ${file}; refusing to connect to an unverified host`,
    fix: keyscan(host, port, file),
  };
}

/** Key types known_hosts holds for this host, so the connection can prefer one it can verify. */
export function knownKeyTypes(knownHostsText: string, host: string, port: number): string[] {
  const name = hostKeyName(host, port);
  const types = parseKnownHosts(knownHostsText)
    .entries.filter((e) => e.marker === undefined && entryNamesHost(e, name))
    .map((e) => e.keyType);
  return [...new Set(types)];
}

function keyscan(host: string, port: number, file: string): string {
  const p = port === 22 ? '' : `-p ${port} `;
  return `ssh-keyscan ${p}${shellQuote(host)} >> ${file.startsWith('~/') ? file : shellQuote(file)}`;
}

// Quotes only when needed, so the common fix line stays easy to read and copy.
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
