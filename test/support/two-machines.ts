// Two real mailrooms in one temp folder (docs/spec.md §6): a hub with host `vps` and the far mailroom
// that host's root names, with the same agents on both sides (`{ host: vps }` on the hub). Made by
// the real CLI (`init`, `host add`, `agent add`: every agent folder gets its AGENT.md), or `bare` as
// the torture makes them (mailroom.yaml and boxes only: the hub's dispatch and human, the far side's
// agents; no AGENT.md, no event log). Without `sshd`, the host's address (203.0.113.7, a
// documentation address) is never dialled: `sync()` hands the far folder to the engine as its
// endpoint. With `sshd`, the host is the test sshd, with its throw-away key and known_hosts, and every
// connection goes over it.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localEndpoint } from '../../src/endpoint/local.js';
import { type Mailroom, openMailroom } from '../../src/mailroom.js';
import { type SyncOptions, type SyncReport, syncHost } from '../../src/sync/pass.js';
import { makeRoot } from '../../torture/support.js';
import { runCli, tempDir } from './cli.js';
import type { Sshd } from './sshd.js';

export interface TwoMachinesOptions {
  /** The far host's agents, on both sides. Default: research. */
  agents?: string[];
  /** The test sshd the host is reached through; without it the far folder is handed over locally. */
  sshd?: Sshd;
  /** Made as the torture makes them (config and boxes, no CLI), not by the CLI. */
  bare?: boolean;
}

/** The fields of host vps in the hub's mailroom.yaml, as written there. */
export interface HostFields {
  ssh: string;
  root: string;
  identity?: string;
  known_hosts?: string;
  mailroom?: string;
  keep_agent?: string;
}

export interface TwoMachines {
  hub: string;
  far: string;
  /** The temp folder holding both (removed by cleanup): room for a test's own files. */
  dir: string;
  /** Runs the CLI on `root` with no ssh-agent (the key file from the config is used). */
  cli: (root: string, args: string[]) => ReturnType<typeof runCli>;
  /** One sync pass of the hub with vps, in this process: over the far folder, or over the sshd. */
  sync: (opts?: SyncOptions) => Promise<SyncReport>;
  /** Rewrites host vps in the hub's mailroom.yaml: the fields it was made with, `fields` over them. */
  setHost: (fields: Partial<HostFields>) => Promise<void>;
  cleanup: () => Promise<void>;
}

export async function twoMachines(opts: TwoMachinesOptions = {}): Promise<TwoMachines> {
  const agents = opts.agents ?? ['research'];
  const { sshd } = opts;
  const tmp = await tempDir();
  const hub = join(tmp.dir, 'hub');
  const far = join(tmp.dir, 'far');
  const host: HostFields = sshd
    ? {
        ssh: `${sshd.user}@127.0.0.1:${sshd.port}`,
        root: far,
        identity: sshd.clientKeyPath,
        known_hosts: sshd.knownHostsPath,
      }
    : { ssh: 'deploy@203.0.113.7', root: far };
  const cli = (root: string, args: string[]) =>
    runCli([...args, '--root', root], { env: { SSH_AUTH_SOCK: '' } });
  const hostsBlock = (fields: Partial<HostFields>) =>
    `hosts:\n  vps:\n${Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `    ${key}: ${value}\n`)
      .join('')}`;
  if (opts.bare) {
    const hubAgents = agents.map((agent) => `  ${agent}: { host: vps }\n`).join('');
    await makeRoot(hub, `agents:\n  dispatch: {}\n  human: {}\n${hubAgents}${hostsBlock(host)}`, [
      'dispatch',
      'human',
    ]);
    await makeRoot(
      far,
      `agents:\n  human: {}\n${agents.map((agent) => `  ${agent}: {}\n`).join('')}`,
      agents,
    );
  } else {
    const keys = [
      ...(host.identity === undefined ? [] : ['--identity', host.identity]),
      ...(host.known_hosts === undefined ? [] : ['--known-hosts', host.known_hosts]),
    ];
    for (const args of [
      ['init', hub],
      ['--root', hub, 'host', 'add', 'vps', host.ssh, '--root', far, ...keys],
      ...agents.map((agent) => ['agent', 'add', agent, '--host', 'vps', '--root', hub]),
      ['init', far],
      ...agents.map((agent) => ['agent', 'add', agent, '--root', far]),
    ]) {
      const r = await runCli(args);
      if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
    }
  }
  const setHost = async (fields: Partial<HostFields>) => {
    const configPath = join(hub, 'mailroom.yaml');
    const config = (await readFile(configPath, 'utf8')).replace(/^hosts:\n(?:[ \t].*\n?)*/m, '');
    await writeFile(configPath, `${config}${hostsBlock({ ...host, ...fields })}`);
  };
  const sync = async (syncOpts: SyncOptions = {}) =>
    syncHost(await openMailroom(hub), 'vps', {
      ...(sshd ? {} : { remote: localEndpoint(far) }),
      ...syncOpts,
    });
  return { hub, far, dir: tmp.dir, cli, sync, setHost, cleanup: tmp.cleanup };
}

/** The torture's two machines (bare, agent r0 on the far host), with both mailrooms open. */
export async function bareR0(): Promise<TwoMachines & { hubMr: Mailroom; farMr: Mailroom }> {
  const sides = await twoMachines({ agents: ['r0'], bare: true });
  return Object.assign(sides, { hubMr: await openMailroom(sides.hub), farMr: await openMailroom(sides.far) });
}
