// `mailroom host init HOST` (docs/spec.md §6, sending across machines): the far side's folders and
// its mailroom.yaml, written from the hub over the host's SSH connection (SFTP): the host's agents
// live there, the hub's other agents live elsewhere. An existing far mailroom.yaml is kept unless
// forced.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { notFound, refused, usageError } from '../errors.js';
import type { Mailroom } from '../mailroom.js';
import { inboxTemplateDir } from '../package-root.js';
import { probeFarAgent } from '../remote/probe.js';
import { openHost } from '../sync/connect-host.js';

export interface HostInitResult {
  agents: string[];
  elsewhere: string[];
  /** The far mailroom's version, or why there is none (sync then drives the folder over SFTP). */
  far: { version: string } | { missing: string };
}

/** The far mailroom.yaml: agent names are checked by the hub's config schema (names.ts). */
export function farConfigText(
  host: string,
  agents: string[],
  elsewhere: string[],
  escalateTo: string,
): string {
  return [
    `# mailroom configuration of ${host}, written by \`mailroom host init ${host}\` on the hub.`,
    '# Agents marked elsewhere live on the hub: a task sent to one waits in the sender outbox',
    '# until the hub syncs (docs/spec.md §6).',
    'agents:',
    ...agents.map((a) => `  ${a}: {}`),
    ...elsewhere.map((a) => `  ${a}: { elsewhere: true }`),
    `escalate_to: ${escalateTo}`,
    '',
  ].join('\n');
}

export async function hostInit(
  mr: Mailroom,
  name: string,
  opts: { force: boolean },
): Promise<HostInitResult> {
  const host = mr.config.hosts[name];
  if (!host) throw notFound(`no host named "${name}"`, 'list them with: mailroom host ls');
  const all = Object.keys(mr.config.agents);
  const agents = all.filter((a) => mr.config.agents[a]?.host === name);
  if (agents.length === 0)
    throw usageError(`no agent lives on ${name}`, `add one first: mailroom agent add NAME --host ${name}`);
  const elsewhere = all.filter((a) => !agents.includes(a));
  const link = await openHost(name, host, { transport: 'sftp' });
  try {
    const ep = link.endpoint;
    if ((await ep.stat('mailroom.yaml')) && !opts.force)
      throw refused(
        `${name}:${host.root}/mailroom.yaml already exists; left as it is`,
        `to replace it: mailroom host init ${name} --force`,
      );
    const template = inboxTemplateDir();
    const files = await readdir(template);
    for (const a of agents) {
      for (const box of ['inbox', 'outbox', 'archive']) await ep.mkdirp(`agents/${a}/${box}`);
      for (const f of files) {
        // An AGENT.md edited there is kept.
        if (await ep.stat(`agents/${a}/${f}`)) continue;
        await ep.writeFileAtomic(`agents/${a}/${f}`, await readFile(join(template, f)));
      }
    }
    await ep.mkdirp('.mailroom');
    const text = farConfigText(name, agents, elsewhere, mr.config.escalate_to);
    await ep.writeFileAtomic('mailroom.yaml', Buffer.from(text));
    const far = await probeFarAgent(link.connection, host.mailroom ?? 'mailroom', host.root, name);
    await mr.log({ type: 'host.initialised', host: name });
    return { agents, elsewhere, far };
  } finally {
    await link.close();
  }
}
