// ssh settings mailroom cannot honour are refused, never ignored (a bastion bypassed, a host key
// checked under the wrong name), and a key type other than the known one is a possible impostor.

import { describe, expect, it } from 'vitest';
import { checkHostKey } from '../../src/ssh/known-hosts.js';
import { resolveTarget } from '../../src/ssh/resolve-target.js';
import { resolveSshConfig } from '../../src/ssh/ssh-config.js';
import { parseTarget } from '../../src/ssh/target.js';

const local = { homeDir: '/home/me', localUser: 'me' };
const resolve = (text: string, host = 'vps') =>
  resolveTarget(
    parseTarget(host),
    resolveSshConfig({ path: '/home/me/.ssh/config', text }, host, { homeDir: '/home/me' }),
    local,
  );

describe('ssh_config settings mailroom cannot honour', () => {
  it.each([
    ['ProxyJump', 'Host vps\n  HostName 10.0.0.5\n  ProxyJump bastion\n'],
    ['ProxyCommand', 'Host vps\n  ProxyCommand ssh -W %h:%p bastion\n'],
    ['HostKeyAlias', 'Host vps\n  HostKeyAlias prod-vps\n'],
  ])('%s is refused with a way out, not ignored', (keyword, text) => {
    expect(() => resolve(text)).toThrow(new RegExp(`${keyword} .* for vps; mailroom cannot go through it`));
  });
  it('ProxyJump none is no proxy at all', () => {
    expect(resolve('Host vps\n  ProxyJump none\n').host).toBe('vps');
  });
  it('a host without them resolves as before', () => {
    expect(resolve('Host other\n  ProxyJump bastion\n').host).toBe('vps');
  });
});

describe('a host offering another key type than the known one', () => {
  it('is reported as a possible impostor, with no keyscan hint', () => {
    const known =
      '[10.0.0.5]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n';
    const v = checkHostKey(
      known,
      '10.0.0.5',
      2222,
      'ecdsa-sha2-nistp256',
      'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=',
    );
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.message).toMatch(/impostor/);
    expect(v.message).toMatch(/knows only its ssh-ed25519 key/);
    expect(v.fix).not.toMatch(/keyscan/);
  });
});
