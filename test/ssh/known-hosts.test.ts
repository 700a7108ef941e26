import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkHostKey,
  hostKeyName,
  keyFingerprint,
  knownKeyTypes,
  parseKnownHosts,
} from '../../src/ssh/known-hosts.js';

// Two distinct fake ed25519 key blobs and one RSA one (content only has to be distinct base64).
const blob = (type: string, fill: number) => {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, Buffer.alloc(36, fill)]).toString('base64');
};
const KEY_A = blob('ssh-ed25519', 1);
const KEY_B = blob('ssh-ed25519', 2);
const RSA = blob('ssh-rsa', 3);

// What `ssh-keygen -H` writes: |1|base64(salt)|base64(HMAC-SHA1(salt, name)).
function hashed(name: string): string {
  const salt = randomBytes(20);
  const mac = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${mac.toString('base64')}`;
}

type Want = 'ok' | 'unknown' | 'changed' | 'revoked';
interface Case {
  name: string;
  text: string;
  host: string;
  port: number;
  key?: string;
  type?: string;
  want: Want;
}

const cases: Case[] = [
  { name: 'plain host, port 22', text: `vps ssh-ed25519 ${KEY_A}`, host: 'vps', port: 22, want: 'ok' },
  {
    name: 'host names are case-insensitive',
    text: `VPS ssh-ed25519 ${KEY_A}`,
    host: 'vps',
    port: 22,
    want: 'ok',
  },
  {
    name: 'bracketed port',
    text: `[127.0.0.1]:2222 ssh-ed25519 ${KEY_A}`,
    host: '127.0.0.1',
    port: 2222,
    want: 'ok',
  },
  {
    name: 'a plain entry does not cover another port',
    text: `127.0.0.1 ssh-ed25519 ${KEY_A}`,
    host: '127.0.0.1',
    port: 2222,
    want: 'unknown',
  },
  {
    name: 'a bracketed entry does not cover another port',
    text: `[h]:2222 ssh-ed25519 ${KEY_A}`,
    host: 'h',
    port: 2223,
    want: 'unknown',
  },
  {
    name: 'comma list with an IP',
    text: `vps,203.0.113.7 ssh-ed25519 ${KEY_A}`,
    host: '203.0.113.7',
    port: 22,
    want: 'ok',
  },
  {
    name: 'wildcard host pattern',
    text: `*.example.com ssh-ed25519 ${KEY_A}`,
    host: 'a.example.com',
    port: 22,
    want: 'ok',
  },
  {
    name: 'negated pattern vetoes',
    text: `*.example.com,!evil.example.com ssh-ed25519 ${KEY_A}`,
    host: 'evil.example.com',
    port: 22,
    want: 'unknown',
  },
  {
    name: 'hashed entry, port 22',
    text: `${hashed('vps')} ssh-ed25519 ${KEY_A}`,
    host: 'vps',
    port: 22,
    want: 'ok',
  },
  {
    name: 'hashed entry, bracketed port',
    text: `${hashed('[127.0.0.1]:2222')} ssh-ed25519 ${KEY_A}`,
    host: '127.0.0.1',
    port: 2222,
    want: 'ok',
  },
  {
    name: 'hashed entry for another host',
    text: `${hashed('other')} ssh-ed25519 ${KEY_A}`,
    host: 'vps',
    port: 22,
    want: 'unknown',
  },
  {
    name: 'hashed entry with a different key of the same type: changed',
    text: `${hashed('vps')} ssh-ed25519 ${KEY_B}`,
    host: 'vps',
    port: 22,
    want: 'changed',
  },
  {
    name: 'same host, other key, same type: changed',
    text: `vps ssh-ed25519 ${KEY_B}`,
    host: 'vps',
    port: 22,
    want: 'changed',
  },
  {
    name: 'one of several lines matches',
    text: `vps ssh-rsa ${RSA}\nvps ssh-ed25519 ${KEY_A}`,
    host: 'vps',
    port: 22,
    want: 'ok',
  },
  {
    // The host was asked for its known type first: offering another may mean an impostor. Reported
    // as a change (no keyscan hint), never as an unknown host to add (trust issue, point 7).
    name: 'only another key type known: a possible impostor, reported as changed',
    text: `vps ssh-rsa ${RSA}`,
    host: 'vps',
    port: 22,
    want: 'changed',
  },
  {
    name: '@revoked key is refused even with a matching plain line',
    text: `vps ssh-ed25519 ${KEY_A}\n@revoked * ssh-ed25519 ${KEY_A}`,
    host: 'vps',
    port: 22,
    want: 'revoked',
  },
  {
    name: '@revoked for another key does not matter',
    text: `vps ssh-ed25519 ${KEY_A}\n@revoked * ssh-ed25519 ${KEY_B}`,
    host: 'vps',
    port: 22,
    want: 'ok',
  },
  {
    name: '@cert-authority does not vouch for a plain key',
    text: `@cert-authority *.example.com ssh-ed25519 ${KEY_A}`,
    host: 'a.example.com',
    port: 22,
    want: 'unknown',
  },
  {
    name: 'comments, blank lines and junk lines are skipped',
    text: `# comment\n\n   \ngarbage\n@bogus x y z\nvps ssh-ed25519 ${KEY_A} user@laptop`,
    host: 'vps',
    port: 22,
    want: 'ok',
  },
  { name: 'empty file', text: '', host: 'vps', port: 22, want: 'unknown' },
];

describe('checkHostKey', () => {
  it.each(cases)('$name -> $want', ({ text, host, port, key, type, want }) => {
    const verdict = checkHostKey(text, host, port, type ?? 'ssh-ed25519', key ?? KEY_A);
    expect(verdict.ok ? 'ok' : verdict.reason).toBe(want);
  });

  it('unknown: the message names host, port and fingerprint; the fix is an ssh-keyscan line', () => {
    const v = checkHostKey('', '127.0.0.1', 2222, 'ssh-ed25519', KEY_A, {
      knownHostsPath: '~/.ssh/known_hosts',
    });
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.message).toContain('[127.0.0.1]:2222');
    expect(v.message).toContain(keyFingerprint(KEY_A));
    expect(v.fix).toBe('ssh-keyscan -p 2222 127.0.0.1 >> ~/.ssh/known_hosts');
    const v22 = checkHostKey('', 'vps', 22, 'ssh-ed25519', KEY_A);
    expect(!v22.ok && v22.fix).toBe('ssh-keyscan vps >> ~/.ssh/known_hosts');
  });

  it('changed: loud, mentions man-in-the-middle and the offending line, fix removes the old key', () => {
    const v = checkHostKey(`# c\n[h]:2200 ssh-ed25519 ${KEY_B}`, 'h', 2200, 'ssh-ed25519', KEY_A, {
      knownHostsPath: '/tmp/kh',
    });
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.message).toMatch(/HAS CHANGED/);
    expect(v.message).toMatch(/man-in-the-middle/);
    expect(v.message).toContain('/tmp/kh line 2');
    expect(v.fix).toContain("ssh-keygen -R '[h]:2200' -f /tmp/kh");
  });

  it('fingerprints like ssh-keygen -lf (SHA256, unpadded base64)', () => {
    expect(keyFingerprint(KEY_A)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('known_hosts helpers', () => {
  it('hostKeyName', () => {
    expect(hostKeyName('VPS', 22)).toBe('vps');
    expect(hostKeyName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
  });

  it('knownKeyTypes lists the types known for a host', () => {
    const text = `vps ssh-rsa ${RSA}\nvps ssh-ed25519 ${KEY_A}\nother ecdsa-sha2-nistp256 ${KEY_B}`;
    expect(knownKeyTypes(text, 'vps', 22)).toEqual(['ssh-rsa', 'ssh-ed25519']);
  });

  it('parseKnownHosts reports junk lines with their numbers', () => {
    const { entries, problems } = parseKnownHosts(
      `ok ssh-ed25519 ${KEY_A}\nshort line\n@weird a b c\nx ssh-ed25519 !!!`,
    );
    expect(entries).toHaveLength(1);
    expect(problems.map((p) => p.line)).toEqual([2, 3, 4]);
  });
});
