// Creating a mailroom and its agents' folders, and managing agents and hosts in the configuration.

import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { editConfig } from '../config/edit.js';
import type { Config } from '../config/schema.js';
import { errnoCode, refused, usageError } from '../errors.js';
import { type Mailroom, openMailroom } from '../mailroom.js';
import { checkAgentName, checkHostName } from '../names.js';
import { inboxTemplateDir } from '../package-root.js';
import { parseTarget } from '../ssh/target.js';
import { TargetExistsError, writeFileAtomic } from '../store/atomic.js';
import { ensureFolder } from '../store/folders.js';
import { BOXES, Layout } from '../store/layout.js';

export const DEFAULT_CONFIG = `# mailroom configuration. Reference: README.md, "Configuration".
agents:
  dispatch: {}
  human: {}
sync:
  interval: 60s          # periodic pull from each host; local changes are pushed within about a second
escalate_to: human       # who gets tasks that are stuck or failed for good
# notify: 'notify-send "mailroom" "$MAILROOM_TITLE: $MAILROOM_REASON"'
on_stuck: escalate       # or reassign (to another agent with the same role)
retry_backoff: 1m        # first retry delay for retryable failures; doubles each attempt
`;

/** Create the folders of an agent and give it a copy of every file in inbox-template/. */
export async function ensureAgentFolders(layout: Layout, agent: string): Promise<void> {
  // One level at a time, refusing a link or a file on the way (never creating through one).
  for (const box of BOXES) await ensureFolder(layout, layout.boxDir(agent, box));
  const templateDir = inboxTemplateDir();
  for (const name of await readdir(templateDir)) {
    try {
      await copyFile(
        join(templateDir, name),
        join(layout.agentDir(agent), name),
        1 /* COPYFILE_EXCL: keep an edited copy */,
      );
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
  }
}

export async function initMailroom(dir: string): Promise<Layout> {
  const layout = new Layout(resolve(dir));
  await mkdir(layout.root, { recursive: true });
  try {
    await writeFileAtomic(layout.configPath, DEFAULT_CONFIG, { exclusive: true });
  } catch (err) {
    if (err instanceof TargetExistsError) {
      throw refused(
        `${layout.configPath} already exists: this is a mailroom already`,
        'use it as it is, or pick another folder',
      );
    }
    throw err;
  }
  await mkdir(layout.stateDir, { recursive: true });
  for (const agent of ['dispatch', 'human']) await ensureAgentFolders(layout, agent);
  return layout;
}

export async function addAgent(
  mr: Mailroom,
  name: string,
  opts: { host?: string; role?: string },
): Promise<Config> {
  checkAgentName(name);
  if (opts.host !== undefined) checkHostName(opts.host);
  const config = await editConfig(mr.layout.configPath, mr.locker, (config) => {
    if (name in config.agents)
      throw refused(`agent "${name}" exists already`, 'edit mailroom.yaml to change it');
    if (opts.host !== undefined && !(opts.host in config.hosts)) {
      throw usageError(
        `no host named "${opts.host}"`,
        `add it first: mailroom host add ${opts.host} USER@HOST --root PATH`,
      );
    }
    const value: Record<string, string> = {};
    if (opts.host !== undefined) value.host = opts.host;
    if (opts.role !== undefined) value.role = opts.role;
    return { keyPath: ['agents', name], value, flowLeaf: true };
  });
  if (opts.host === undefined) await ensureAgentFolders(mr.layout, name);
  await mr.log({
    type: 'agent.added',
    agent: name,
    ...(opts.host ? { host: opts.host } : {}),
    ...(opts.role ? { role: opts.role } : {}),
  });
  return config;
}

export async function addHost(
  mr: Mailroom,
  name: string,
  target: string,
  opts: { root: string; identity?: string; knownHosts?: string },
): Promise<Config> {
  checkHostName(name);
  parseTarget(target); // the one target parser, the same the connection uses (src/ssh/target.ts)
  if (!opts.root.startsWith('/') && !opts.root.startsWith('~')) {
    throw usageError(
      `--root ${JSON.stringify(opts.root)} must be an absolute path on that machine`,
      'e.g. --root /home/deploy/mailroom',
    );
  }
  const value: Record<string, string> = { ssh: target, root: opts.root };
  if (opts.identity !== undefined) value.identity = opts.identity;
  if (opts.knownHosts !== undefined) value.known_hosts = opts.knownHosts;
  const config = await editConfig(mr.layout.configPath, mr.locker, (config) => {
    if (name in config.hosts)
      throw refused(`host "${name}" exists already`, 'edit mailroom.yaml to change it');
    return { keyPath: ['hosts', name], value };
  });
  await mr.log({ type: 'host.added', host: name, ssh: target });
  return config;
}

export { openMailroom };
