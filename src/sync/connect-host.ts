// Opens the far side of a host from its configuration: ~/.ssh/config aliases, users, ports and
// identity files are honoured; host keys are checked against known_hosts (never accepted blindly).
// Over that one connection the far mailroom agent is started (`mailroom serve`, docs/sync.md "The
// far agent"); where there is none, the far folder is driven over SFTP, and the link says why.

import { rm } from 'node:fs/promises';
import type { HostConfig } from '../config/schema.js';
import type { AgentEndpoint } from '../endpoint/agent.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { openSftpEndpoint } from '../endpoint/sftp.js';
import { expandHome } from '../home.js';
import { keepAgentMs, keptAgentSocket, noteKeptAgent } from '../remote/kept-agent.js';
import { KEPT_WRITE_EVERY_MS } from '../remote/write-behind.js';
import { connectSsh, type SshConnection } from '../ssh/connect.js';
import { resolveTargetFromSystem } from '../ssh/resolve-target.js';

export { expandHome };

export interface HostLink {
  endpoint: Endpoint;
  connection: SshConnection;
  /** `agent`: a far `mailroom serve` answers; `sftp`: the fallback, `note` says why. */
  transport: 'agent' | 'sftp';
  note?: string;
  /** Set with the agent: far changes under the host's agents' folders, as they happen. */
  agent?: AgentEndpoint;
  /** With the agent: it was a far agent that stayed, reached on its socket (not started now). */
  stayed?: boolean;
  close(): Promise<void>;
}

export interface OpenHostOptions {
  /** The host's agents: the far agent writes nowhere else. Without them, SFTP is used. */
  agents?: readonly string[];
  /** Force a transport (the bench, and MAILROOM_SYNC_TRANSPORT=sftp for a person comparing). */
  transport?: 'agent' | 'sftp';
  /**
   * Where the hub keeps its copy of the far agent's last manifest (manifest-delta.ts): with it, the
   * far side sends what changed since. Absent: the whole manifest every pass.
   */
  manifestCopy?: string;
  /**
   * Called once, when the far side has been asked for what a pass needs first: the far agent's hello
   * (with its prefetched scan) written, or SFTP chosen, or the connection failed. sync/pass.ts starts
   * this side's own work then, not while the requests that start the far side wait to go out.
   */
  onFarStarted?: () => void;
  /**
   * The connection is kept for many passes (the daemon's): the manifest copy is written at most once
   * a minute, and when the link closes (ManifestCopy's deferMs).
   */
  kept?: boolean;
  /**
   * Where the hub notes a far agent that stays (kept-agent.ts): read to try its socket first, written
   * when the far agent says it stays. Absent: the far agent is asked not to stay.
   */
  keptAgent?: string;
}

/**
 * The far agent's side of the hub (its client and protocol, endpoint and manifest copy), loaded while
 * the SSH handshake waits on the network instead of before it: ~25 ms of every one-shot sync's start.
 */
const agentParts = async () => {
  const [{ AgentEndpoint }, { ManifestCopy }, { startAgent }] = await Promise.all([
    import('../endpoint/agent.js'),
    import('../remote/manifest-copy.js'),
    import('../remote/probe.js'),
  ]);
  return { AgentEndpoint, ManifestCopy, startAgent };
};

const wantsAgent = (opts: OpenHostOptions): boolean =>
  (opts.transport ?? (process.env.MAILROOM_SYNC_TRANSPORT === 'sftp' ? 'sftp' : 'agent')) === 'agent' &&
  opts.agents !== undefined;

/**
 * The socket of a far agent that stayed from an earlier pass, where openHost will look for it first
 * (kept-agent.ts); undefined when none is expected, or none is to be used.
 */
export function stayedAgentSocket(host: HostConfig, opts: OpenHostOptions): string | undefined {
  return wantsAgent(opts) && opts.keptAgent && keepAgentMs(host) > 0
    ? keptAgentSocket(opts.keptAgent)
    : undefined;
}

export async function openHost(
  name: string,
  host: HostConfig,
  opts: OpenHostOptions = {},
): Promise<HostLink> {
  const target = resolveTargetFromSystem(host.ssh);
  const agentWanted = wantsAgent(opts);
  let parts: ReturnType<typeof agentParts> | undefined;
  let told = false;
  const farStarted = () => {
    if (told) return;
    told = true;
    opts.onFarStarted?.();
  };
  const connection = await connectSsh({
    host: target.host,
    port: target.port,
    user: target.user,
    identityFiles: host.identity ? [expandHome(host.identity)] : target.identityFiles,
    knownHostsPath: expandHome(host.known_hosts),
    label: `${name} (${host.ssh})`,
    whileConnecting: () => {
      if (!agentWanted) return;
      parts = agentParts();
      parts.catch(() => {}); // awaited below, unless the connection fails first
    },
  });
  try {
    const label = `${name}:${host.root}`;
    let note = 'SFTP asked for';
    if (agentWanted && opts.agents) {
      const { AgentEndpoint, ManifestCopy, startAgent } = await (parts ?? agentParts());
      const command = host.mailroom ?? 'mailroom';
      const stayMs = opts.keptAgent ? keepAgentMs(host) : 0;
      const keptSocket = stayedAgentSocket(host, opts);
      const copy = opts.manifestCopy
        ? new ManifestCopy(opts.manifestCopy, opts.agents, opts.kept ? KEPT_WRITE_EVERY_MS : 0)
        : undefined;
      const since = copy?.generation();
      const started = await startAgent(connection, {
        host: name,
        command,
        root: host.root,
        agents: opts.agents,
        prefetchManifest: true, // a pass begins with the far side's scan
        ...(since ? { manifestSince: since } : {}),
        onHelloSent: farStarted,
        ...(stayMs > 0 ? { stayMs } : {}),
        ...(keptSocket ? { keptSocket } : {}),
      });
      if (started.kind === 'agent') {
        const agent = new AgentEndpoint(started.client, label, name, copy);
        // Noted beside the pass, not before it: only a later connection reads the note.
        const stay = started.client.farStay;
        const helloAt = Date.now();
        const noted = !opts.keptAgent
          ? undefined
          : stay
            ? noteKeptAgent(opts.keptAgent, stay, stayMs).catch(() => {})
            : keptSocket
              ? rm(opts.keptAgent, { force: true }).catch(() => {}) // it does not stay: no more tries
              : undefined;
        return {
          endpoint: agent,
          connection,
          transport: 'agent',
          agent,
          stayed: started.kept,
          close: async () => {
            await agent.close().catch(() => {});
            await connection.close();
            // A connection that lasted (a daemon's) is noted again: the agent stays from its end.
            if (stay && opts.keptAgent && Date.now() - helloAt > 60_000)
              await noteKeptAgent(opts.keptAgent, stay, stayMs).catch(() => {});
            await noted;
          },
        };
      }
      note = `${started.reason}; using SFTP (install mailroom there or set hosts.${name}.mailroom)`;
    }
    farStarted();
    const endpoint = await openSftpEndpoint(connection, { root: expandHome(host.root), label });
    return {
      endpoint,
      connection,
      transport: 'sftp',
      note,
      close: async () => {
        await endpoint.close().catch(() => {});
        await connection.close();
      },
    };
  } catch (err) {
    await connection.close().catch(() => {});
    throw err;
  }
}
