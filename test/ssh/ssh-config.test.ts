import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchGlob, matchPatternList } from '../../src/ssh/host-pattern.js';
import { resolveTarget, resolveTargetFromSystem } from '../../src/ssh/resolve-target.js';
import { loadSshConfig, resolveSshConfig, type SshConfigFile } from '../../src/ssh/ssh-config.js';
import { parseTarget } from '../../src/ssh/target.js';

describe('host patterns', () => {
  const cases: [string, string, boolean][] = [
    ['vps', 'vps', true],
    ['VPS', 'vps', true],
    ['vps', 'vp', false],
    ['vps', 'v*', true],
    ['vps', '*', true],
    ['vps', 'v?s', true],
    ['vps', 'v?', false],
    ['a.b.example.com', '*.example.com', true],
    ['example.com', '*.example.com', false],
    ['aXbXc', 'a*b*c', true],
    ['abc', 'a*b*c*d', false],
    ['', '*', true],
  ];
  it.each(cases)('%j ~ %j is %s', (text, pattern, want) => {
    expect(matchGlob(text, pattern)).toBe(want);
  });

  const lists: [string, string[], boolean][] = [
    ['db1', ['db*', '!db2'], true],
    ['db2', ['db*', '!db2'], false],
    ['db2', ['!db2', 'db*'], false], // a matching negation vetoes, whatever the order
    ['web', ['!db*'], false], // a negation alone never matches
    ['web', ['db*', 'web'], true],
  ];
  it.each(lists)('%j in %j is %s', (text, patterns, want) => {
    expect(matchPatternList(text, patterns)).toBe(want);
  });
});

const file = (text: string, path = '/home/u/.ssh/config'): SshConfigFile => ({ path, text });
const ctx = { homeDir: '/home/u' };

describe('resolveSshConfig', () => {
  const config = file(
    [
      '# my hosts',
      'Host vps vps-*',
      '  HostName 203.0.113.7',
      '  User deploy',
      '  Port 2222',
      '  IdentityFile ~/.ssh/vps_key',
      '',
      'Host *.internal !secret.internal',
      '  User ops',
      '  Port=2200',
      '',
      'Host vps',
      '  User ignored-because-first-wins',
      '  IdentityFile ~/.ssh/second_key',
      '',
      'Match exec "true"',
      '  User never-from-a-match-block',
      '',
      'Host *',
      '  User fallback',
      '  IdentityFile "~/.ssh/id with space"',
      '  IdentitiesOnly yes',
    ].join('\n'),
  );

  const cases: { name: string; host: string; want: object }[] = [
    {
      name: 'a named host takes its block, first value wins, IdentityFile accumulates',
      host: 'vps',
      want: {
        hostName: '203.0.113.7',
        user: 'deploy',
        port: 2222,
        identityFiles: ['~/.ssh/vps_key', '~/.ssh/second_key', '~/.ssh/id with space'],
        identitiesOnly: true,
      },
    },
    {
      name: 'a wildcard pattern on the same Host line',
      host: 'vps-backup',
      want: { hostName: '203.0.113.7', user: 'deploy', port: 2222 },
    },
    { name: 'a wildcard block', host: 'db.internal', want: { user: 'ops', port: 2200 } },
    {
      name: 'a negated pattern excludes the host from the block',
      host: 'secret.internal',
      want: { user: 'fallback', port: undefined, hostName: undefined },
    },
    {
      name: 'an unmatched host takes only Host *',
      host: 'elsewhere',
      want: { user: 'fallback', port: undefined },
    },
  ];
  it.each(cases)('$name', ({ host, want }) => {
    const got: Record<string, unknown> = { ...resolveSshConfig(config, host, ctx) };
    // Compare exactly the fields the case names, including ones that must be absent (undefined).
    expect(Object.fromEntries(Object.keys(want).map((k) => [k, got[k]]))).toEqual(want);
  });

  it('reads "Keyword=value", quotes and trailing comments', () => {
    const r = resolveSshConfig(file('Host a\n  HostName="x.example" # comment\n  User=me'), 'a', ctx);
    expect(r).toMatchObject({ hostName: 'x.example', user: 'me' });
  });

  it('names the file and line of a bad Port', () => {
    expect(() => resolveSshConfig(file('Host a\n  Port 99999'), 'a', ctx)).toThrow(/config:2: Port "99999"/);
  });

  it('splices Include files in place; their Host lines do not leak out', () => {
    const included: Record<string, string> = {
      '/home/u/.ssh/conf.d/a': 'Host vps\n  User from-include\nHost other\n  User other-user',
    };
    const include = (pattern: string) => (pattern in included ? [file(included[pattern]!, pattern)] : []);
    const text = 'Include conf.d/a\nUser top-level-after-include\nHost vps\n  Port 2022';
    expect(resolveSshConfig(file(text), 'vps', { ...ctx, include })).toMatchObject({
      user: 'from-include',
      port: 2022,
    });
    // After the include, the outer (all-hosts) state is back: a host the include's blocks skip
    // still gets the top-level User.
    expect(resolveSshConfig(file(text), 'zzz', { ...ctx, include })).toMatchObject({
      user: 'top-level-after-include',
    });
  });
});

describe('resolveTarget', () => {
  const local = { homeDir: '/home/me', localUser: 'me' };
  it('the target beats the config, the config beats defaults', () => {
    const cfg = { hostName: '%h.example.org', user: 'cfg', port: 2222, identityFiles: ['~/.ssh/%r@%h'] };
    expect(resolveTarget(parseTarget('vps'), cfg, local)).toEqual({
      name: 'vps',
      host: 'vps.example.org',
      port: 2222,
      user: 'cfg',
      identityFiles: ['/home/me/.ssh/cfg@vps.example.org'],
      identitiesOnly: false,
      knownHostsFiles: [],
    });
    expect(resolveTarget(parseTarget('root@vps:22'), cfg, local)).toMatchObject({ user: 'root', port: 22 });
    expect(resolveTarget(parseTarget('plain'), { identityFiles: [] }, local)).toMatchObject({
      host: 'plain',
      user: 'me',
      port: 22,
    });
  });

  it('refuses an unknown % token', () => {
    expect(() => resolveTarget(parseTarget('a'), { identityFiles: ['%Q'] }, local)).toThrow(/token %Q/);
  });
});

describe('loadSshConfig (disk)', () => {
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'mailroom-sshcfg-'));
    await mkdir(join(home, '.ssh', 'config.d'), { recursive: true });
    await writeFile(join(home, '.ssh', 'config'), 'Include config.d/*.conf\nHost *\n  User default-user\n');
    await writeFile(
      join(home, '.ssh', 'config.d', '10-vps.conf'),
      'Host vps\n  HostName 192.0.2.1\n  Port 2201\n',
    );
    await writeFile(join(home, '.ssh', 'config.d', 'ignored.txt'), 'Host vps\n  Port 1\n');
  });
  afterAll(() => rm(home, { recursive: true, force: true }));

  it('follows Include globs relative to ~/.ssh', () => {
    expect(loadSshConfig('vps', { homeDir: home })).toMatchObject({
      hostName: '192.0.2.1',
      port: 2201,
      user: 'default-user',
    });
  });

  it('a missing config file means no settings', () => {
    expect(loadSshConfig('vps', { homeDir: join(home, 'nope') })).toEqual({ identityFiles: [] });
  });

  it('resolveTargetFromSystem puts it together', () => {
    expect(resolveTargetFromSystem('ops@vps', { homeDir: home, localUser: 'me' })).toMatchObject({
      host: '192.0.2.1',
      port: 2201,
      user: 'ops',
    });
  });
});
