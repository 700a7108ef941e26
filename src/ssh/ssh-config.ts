// What an OpenSSH client config (`~/.ssh/config`) says about one host, read the way `ssh` reads it:
// lines apply when the last `Host` line's patterns match, and for every keyword the FIRST value
// obtained wins (IdentityFile accumulates). The resolver is a pure function over file texts; only
// `loadSshConfig` touches the disk. `Match` blocks are not evaluated: apart from `Match all` their
// lines are skipped, so a value is never taken from a block whose condition we cannot judge.

import { readdirSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { errnoCode, usageError } from '../errors.js';
import { matchGlob, matchPatternList } from './host-pattern.js';
import { parsePort } from './target.js';

export interface SshConfigFile {
  readonly path: string;
  readonly text: string;
}

/** Raw values for one host; tokens (`%h`, `~`) are left for `expandTokens`, once the user is known. */
export interface SshHostConfig {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  identitiesOnly?: boolean;
  userKnownHostsFiles?: string[];
  /** ProxyJump, ProxyCommand, HostKeyAlias: mailroom cannot honour them, so it refuses (never ignores). */
  unsupported?: { keyword: string; value: string }[];
}

export interface ResolveContext {
  /** Used to make a relative `Include` absolute (user config: relative to ~/.ssh). */
  readonly homeDir: string;
  /** Expands one absolute Include pattern to the files it names, in order. Absent: Include is ignored. */
  readonly include?: (absolutePattern: string) => SshConfigFile[];
}

const MAX_INCLUDE_DEPTH = 16;

export function resolveSshConfig(file: SshConfigFile, host: string, ctx: ResolveContext): SshHostConfig {
  const out: SshHostConfig = { identityFiles: [] };
  applyFile(file, host, ctx, out, true, 0);
  return out;
}

// Walks one file. `active` is the Host state inherited from the including line; like OpenSSH, an
// included file's own Host lines do not leak out, and a file included from an inactive block never applies.
function applyFile(
  file: SshConfigFile,
  host: string,
  ctx: ResolveContext,
  out: SshHostConfig,
  inheritedActive: boolean,
  depth: number,
): void {
  let active = inheritedActive;
  const lines = file.text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const where = `${file.path}:${i + 1}`;
    const parsed = parseLine(lines[i] ?? '', where);
    if (parsed === undefined) continue;
    const [keyword, args] = parsed;
    switch (keyword) {
      case 'host':
        active = inheritedActive && matchPatternList(host, args);
        break;
      case 'match':
        active = inheritedActive && args.length === 1 && args[0]?.toLowerCase() === 'all';
        break;
      case 'include':
        if (!active || ctx.include === undefined) break;
        if (depth >= MAX_INCLUDE_DEPTH) throw usageError(`${where}: Include nested too deeply`);
        for (const arg of args) {
          const pattern =
            isAbsolute(arg) || arg.startsWith('~')
              ? expandTilde(arg, ctx.homeDir)
              : join(ctx.homeDir, '.ssh', arg);
          for (const inc of ctx.include(pattern)) applyFile(inc, host, ctx, out, active, depth + 1);
        }
        break;
      default:
        if (active) applyValue(out, keyword, args, where);
    }
  }
}

function applyValue(out: SshHostConfig, keyword: string, args: string[], where: string): void {
  const first = args[0];
  if (first === undefined) throw usageError(`${where}: ${keyword} needs a value`);
  switch (keyword) {
    case 'hostname':
      out.hostName ??= first;
      break;
    case 'user':
      out.user ??= first;
      break;
    case 'port': {
      if (out.port !== undefined) break;
      const port = parsePort(first);
      if (port === null)
        throw usageError(`${where}: Port ${JSON.stringify(first)} is not a number from 1 to 65535`);
      out.port = port;
      break;
    }
    case 'identityfile':
      if (first.toLowerCase() !== 'none') out.identityFiles.push(first);
      break;
    case 'identitiesonly':
      out.identitiesOnly ??= first.toLowerCase() === 'yes';
      break;
    case 'userknownhostsfile':
      out.userKnownHostsFiles ??= args.filter((a) => a.toLowerCase() !== 'none');
      break;
    case 'proxyjump':
    case 'proxycommand':
    case 'hostkeyalias': {
      // First obtained wins; `none` switches a proxy off.
      const name = { proxyjump: 'ProxyJump', proxycommand: 'ProxyCommand', hostkeyalias: 'HostKeyAlias' }[
        keyword
      ];
      out.unsupported ??= [];
      if (!out.unsupported.some((u) => u.keyword === name))
        out.unsupported.push({ keyword: name, value: args.join(' ') });
      break;
    }
    // Every other keyword does not concern how mailroom reaches a host.
  }
}

/** `[keyword (lower case), args]`, or undefined for blank and comment lines. */
export function parseLine(line: string, where: string): [string, string[]] | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const m = /^([A-Za-z][A-Za-z0-9]*)(?:\s*=\s*|\s+)(.*)$/.exec(trimmed);
  if (m === null)
    throw usageError(`${where}: cannot read ${JSON.stringify(trimmed)}`, 'lines look like "Keyword value"');
  return [m[1]!.toLowerCase(), splitArgs(m[2]!, where)];
}

// Words separated by blanks; double quotes group a word; a word starting with `#` ends the line.
function splitArgs(text: string, where: string): string[] {
  const args: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[2]?.startsWith('#')) break;
    if (m[2]?.includes('"')) throw usageError(`${where}: unbalanced quote in ${JSON.stringify(text)}`);
    args.push(m[1] ?? m[2]!);
  }
  return args;
}

export function expandTilde(path: string, homeDir: string): string {
  if (path === '~') return homeDir;
  if (path.startsWith('~/')) return join(homeDir, path.slice(2));
  return path;
}

export interface TokenValues {
  /** %h: the host name being connected to (after HostName). */
  readonly host: string;
  /** %n: the host as the user typed it (the alias). */
  readonly originalHost: string;
  /** %r: the remote user. */
  readonly remoteUser: string;
  /** %u: the local user. */
  readonly localUser: string;
  /** %d: the local home folder; also what `~` stands for. */
  readonly homeDir: string;
  /** %p: the port. */
  readonly port: number;
}

/** OpenSSH `%` tokens and a leading `~`, as ssh expands them in HostName and IdentityFile. */
export function expandTokens(text: string, v: TokenValues, where = 'ssh config'): string {
  const expanded = text.replace(/%(.)/g, (_, t: string) => {
    switch (t) {
      case '%':
        return '%';
      case 'h':
        return v.host;
      case 'n':
        return v.originalHost;
      case 'r':
        return v.remoteUser;
      case 'u':
        return v.localUser;
      case 'd':
        return v.homeDir;
      case 'p':
        return String(v.port);
      default:
        throw usageError(`${where}: mailroom does not know the token %${t} in ${JSON.stringify(text)}`);
    }
  });
  return expandTilde(expanded, v.homeDir);
}

export interface LoadOptions {
  /** Default ~/.ssh/config. */
  readonly path?: string;
  readonly homeDir?: string;
}

/** Reads the user's ssh config (missing file: no settings) and resolves `host` in it. */
export function loadSshConfig(host: string, opts: LoadOptions = {}): SshHostConfig {
  const homeDir = opts.homeDir ?? homedir();
  const path = opts.path ?? join(homeDir, '.ssh', 'config');
  const text = readIfExists(path);
  if (text === undefined) return { identityFiles: [] };
  return resolveSshConfig({ path, text }, host, { homeDir, include: expandInclude });
}

export const localUserName = (): string => userInfo().username;

// Include patterns may hold `*`/`?` in their last segment (`Include config.d/*`), the common case.
function expandInclude(pattern: string): SshConfigFile[] {
  const dir = dirname(pattern);
  const base = basename(pattern);
  let names: string[];
  if (/[*?]/.test(base)) {
    try {
      names = readdirSync(dir)
        .filter((n) => !n.startsWith('.') && matchGlob(n, base, false))
        .sort();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
  } else {
    names = [base];
  }
  const files: SshConfigFile[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const text = readIfExists(path);
    if (text !== undefined) files.push({ path, text });
  }
  return files;
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'EISDIR') return undefined;
    throw err;
  }
}
