// The tools mailroom is compared with, run as a user would run them from cron: rsync and Unison over
// plain OpenSSH to the same private sshd, a fresh ssh connection per run, the host key checked
// against the bench's own known_hosts, never the user's ~/.ssh (no config file, no agent).

import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mustRun, type ProcessResult, runProcess } from './measure.js';

export interface SshTarget {
  user: string;
  port: number;
  identity: string;
  knownHosts: string;
}

function sshOptions(t: SshTarget): string[] {
  return [
    '-p',
    String(t.port),
    '-i',
    t.identity,
    '-F',
    '/dev/null',
    '-o',
    `UserKnownHostsFile=${t.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
  ];
}

const toolEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.SSH_AUTH_SOCK;
  return env;
};

/** Is `bin` on PATH? Returns its first line of version output, or undefined. */
export async function toolVersion(bin: string, args: string[]): Promise<string | undefined> {
  try {
    const r = await runProcess(bin, args);
    return r.code === 0 ? r.stdout.split('\n')[0]?.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** `ssh host true`: the price of a fresh connection, which every rsync and unison run pays. */
export function sshTrue(t: SshTarget): Promise<ProcessResult> {
  return mustRun('ssh', [...sshOptions(t), `${t.user}@127.0.0.1`, 'true'], { env: toolEnv() });
}

/** `rsync -a --delete -e "ssh ..." FROM/ user@127.0.0.1:TO/` (a mirror of FROM, as cron runs it). */
export function rsyncTree(t: SshTarget, from: string, to: string): Promise<ProcessResult> {
  return mustRun(
    'rsync',
    ['-a', '--delete', '-e', ['ssh', ...sshOptions(t)].join(' '), `${from}/`, `${t.user}@127.0.0.1:${to}/`],
    { env: toolEnv() },
  );
}

/**
 * Unison between a local folder and a far one. Both sides keep their archives in the bench's temp
 * folder (the UNISON variable; the far side gets it from a wrapper named by -servercmd), so the
 * user's ~/.unison is never read or written.
 */
export async function unisonRunner(
  t: SshTarget,
  dir: string,
): Promise<(local: string, far: string) => Promise<ProcessResult>> {
  const localArchive = join(dir, 'unison-local');
  const farArchive = join(dir, 'unison-far');
  await mkdir(localArchive, { recursive: true });
  await mkdir(farArchive, { recursive: true });
  const wrapper = join(dir, 'unison-server.sh');
  await writeFile(wrapper, `#!/bin/sh\nUNISON='${farArchive}' exec unison "$@"\n`);
  await chmod(wrapper, 0o755);
  return (local, far) =>
    mustRun(
      'unison',
      [
        local,
        `ssh://${t.user}@127.0.0.1/${far}`,
        '-batch',
        '-silent',
        '-times',
        '-ui',
        'text',
        '-servercmd',
        wrapper,
        '-sshargs',
        sshOptions(t).join(' '),
      ],
      { env: { ...toolEnv(), UNISON: localArchive } },
    );
}
