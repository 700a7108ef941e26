// A hub mailroom and a far mailroom reached over the test sshd (host `vps`, agent `research` living
// there): the set-up of every test where the far host is untrusted.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, tempDir } from './cli.js';
import type { Sshd } from './sshd.js';

export interface HubAndFar {
  hub: string;
  far: string;
  dir: string;
  /** Runs the CLI on `root` with no ssh-agent (the key file from the config is used). */
  cli: (root: string, args: string[]) => ReturnType<typeof runCli>;
  cleanup: () => Promise<void>;
}

export async function hubAndFar(sshd: Sshd, name: string, farAgents = ['research']): Promise<HubAndFar> {
  const tmp = await tempDir();
  const hub = join(tmp.dir, 'hub');
  const far = join(sshd.dir, `far-${name}`);
  const cli = (root: string, args: string[]) =>
    runCli([...args, '--root', root], { env: { SSH_AUTH_SOCK: '' } });
  for (const args of [
    ['init', hub],
    ['init', far],
    ...farAgents.map((a) => ['agent', 'add', a, '--root', far]),
  ]) {
    const r = await runCli(args);
    if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  }
  const configPath = join(hub, 'mailroom.yaml');
  await writeFile(
    configPath,
    `${await readFile(configPath, 'utf8')}hosts:\n  vps:\n    ssh: ${sshd.user}@127.0.0.1:${sshd.port}\n    root: ${far}\n    identity: ${sshd.clientKeyPath}\n    known_hosts: ${sshd.knownHostsPath}\n`,
  );
  for (const a of farAgents) {
    const r = await cli(hub, ['agent', 'add', a, '--host', 'vps']);
    if (r.code !== 0) throw new Error(`agent add ${a}: ${r.stderr}`);
  }
  return { hub, far, dir: tmp.dir, cli, cleanup: tmp.cleanup };
}
