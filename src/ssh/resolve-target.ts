// From what the user wrote (`deploy@vps:2222`, or the alias `vps`) to where and as whom mailroom
// connects, with the precedence `ssh` uses: what the target says explicitly, then ~/.ssh/config,
// then the defaults (port 22, the local user). Pure apart from `resolveTargetFromSystem`.

import { homedir } from 'node:os';
import { usageError } from '../errors.js';
import { expandTokens, loadSshConfig, localUserName, type SshHostConfig } from './ssh-config.js';
import { formatTarget, parseTarget, type SshTarget } from './target.js';

export interface ResolvedTarget {
  /** The target as the user wrote it, for messages. */
  readonly name: string;
  /** The host to connect to: ssh_config's HostName, else the target's host. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** IdentityFile values, tokens and `~` expanded, in config order. */
  readonly identityFiles: readonly string[];
  /** IdentitiesOnly yes: do not offer keys from ssh-agent beyond the identity files. */
  readonly identitiesOnly: boolean;
  /** UserKnownHostsFile values, expanded; empty when the config names none. */
  readonly knownHostsFiles: readonly string[];
}

export interface LocalIdentity {
  readonly homeDir: string;
  readonly localUser: string;
}

export function resolveTarget(
  target: SshTarget,
  config: SshHostConfig,
  local: LocalIdentity,
): ResolvedTarget {
  refuseUnsupported(target, config);
  const port = target.port ?? config.port ?? 22;
  const user = target.user ?? config.user ?? local.localUser;
  const tokens = { originalHost: target.host, remoteUser: user, port, ...local };
  const host =
    config.hostName === undefined
      ? target.host
      : expandTokens(config.hostName, { ...tokens, host: target.host });
  const expand = (p: string) => expandTokens(p, { ...tokens, host });
  return {
    name: formatTarget(target),
    host,
    port,
    user,
    identityFiles: config.identityFiles.map(expand),
    identitiesOnly: config.identitiesOnly ?? false,
    knownHostsFiles: (config.userKnownHostsFiles ?? []).map(expand),
  };
}

/**
 * A bastion bypassed or a host key checked under the wrong name would be worse than no connection:
 * ProxyJump, ProxyCommand and HostKeyAlias are refused with the way out, never silently ignored.
 */
function refuseUnsupported(target: SshTarget, config: SshHostConfig): void {
  const set = (config.unsupported ?? []).filter((u) => u.value.toLowerCase() !== 'none');
  if (set.length === 0) return;
  const what = set.map((u) => `${u.keyword} ${u.value}`).join(', ');
  throw usageError(
    `~/.ssh/config sets ${what} for ${target.host}; mailroom cannot go through it and will not connect around it`,
    'give mailroom a target it can reach directly (a Host alias without these settings, or a tunnel: ssh -L 2222:HOST:22 BASTION, then ssh: user@127.0.0.1:2222)',
  );
}

export interface SystemOptions {
  /** Default ~/.ssh/config. */
  readonly sshConfigPath?: string;
  readonly homeDir?: string;
  readonly localUser?: string;
}

/** Parses TARGET and resolves it against the user's ssh config on this machine. */
export function resolveTargetFromSystem(text: string, opts: SystemOptions = {}): ResolvedTarget {
  const homeDir = opts.homeDir ?? homedir();
  const target = parseTarget(text);
  const config = loadSshConfig(target.host, {
    homeDir,
    ...(opts.sshConfigPath !== undefined && { path: opts.sshConfigPath }),
  });
  return resolveTarget(target, config, { homeDir, localUser: opts.localUser ?? localUserName() });
}
