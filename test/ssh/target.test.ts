import { describe, expect, it } from 'vitest';
import { MailroomError } from '../../src/errors.js';
import { formatTarget, parseTarget, type SshTarget } from '../../src/ssh/target.js';

describe('parseTarget', () => {
  const good: [string, SshTarget][] = [
    ['vps', { host: 'vps' }],
    ['deploy@203.0.113.7', { user: 'deploy', host: '203.0.113.7' }],
    ['deploy@203.0.113.7:2222', { user: 'deploy', host: '203.0.113.7', port: 2222 }],
    ['example.com:22', { host: 'example.com', port: 22 }],
    ['  deploy@host-1.example.org  ', { user: 'deploy', host: 'host-1.example.org' }],
    ['root@[::1]:2200', { user: 'root', host: '::1', port: 2200 }],
    ['[fe80::1%eth0]', { host: 'fe80::1%eth0' }],
    ['u_1.x@h', { user: 'u_1.x', host: 'h' }],
  ];
  it.each(good)('reads %j', (text, want) => {
    expect(parseTarget(text)).toEqual(want);
  });

  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['a@b@c', /more than one "@"/],
    ['@host', /user "" is not a valid/],
    ['user@', /"" is not a valid host name/],
    ['-oProxyCommand=x', /not a valid host name/],
    ['u@host:0', /port "0"/],
    ['u@host:65536', /port "65536"/],
    ['u@host:22x', /port "22x"/],
    ['u@host:', /port ""/],
    ['::1', /IPv6 address must be written in brackets/],
    ['[::1', /without "]"/],
    ['[::1]x', /unexpected "x"/],
    ['[nothex]:22', /not an IPv6 address/],
    ['host/../etc', /not a valid host name/],
    ['us er@host', /not a valid user name/],
  ];
  it.each(bad)('refuses %j', (text, why) => {
    let caught: unknown;
    try {
      parseTarget(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MailroomError);
    expect((caught as MailroomError).kind).toBe('usage');
    expect((caught as MailroomError).message).toMatch(why);
    expect((caught as MailroomError).hint).toMatch(/user@host/);
  });

  it.each(good)('formats %j back to an equal target', (text) => {
    const t = parseTarget(text);
    expect(parseTarget(formatTarget(t))).toEqual(t);
  });
});
