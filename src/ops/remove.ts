// `agent rm` and `host rm`. Nothing is lost: an agent that still has tasks (or unreadable files) in
// its boxes is refused, unless --force, which first hands each task to escalate_to (an unfinished
// one is reassigned there and starts over as queued; a finished one moves to the same box there).
// The agent's folder goes only when nothing but empty boxes and an untouched AGENT.md is left.

import { readdir, readFile, rm, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { editConfig } from '../config/edit.js';
import { errnoCode, refused } from '../errors.js';
import { type Mailroom, requireAgent } from '../mailroom.js';
import { checkHostName } from '../names.js';
import { inboxTemplateDir } from '../package-root.js';
import { BOXES } from '../store/layout.js';
import { loadAll } from '../store/scan.js';
import { updateTask } from '../store/tasks.js';
import { syncDir } from '../sync/state.js';
import { reassign } from './lifecycle.js';

export interface RemoveResult {
  /** Tasks handed to escalate_to (with --force). */
  moved: string[];
  /** The agent's folder was left because something else is in it. */
  folderKept: boolean;
}

export async function removeAgent(
  mr: Mailroom,
  name: string,
  opts: { force?: boolean } = {},
): Promise<RemoveResult> {
  requireAgent(mr, name);
  const to = mr.config.escalate_to;
  if (name === to)
    throw refused(
      `agent ${name} is escalate_to: stuck and failed tasks go there`,
      'set escalate_to: to another agent in mailroom.yaml first',
    );
  const { tasks, problems } = await loadAll(mr.layout, { agents: [name] });
  if (problems.length > 0)
    throw refused(
      `agent ${name} has ${problems.length} unreadable file(s), e.g. ${mr.layout.rel(problems[0]!.path)}`,
      'fix or move them by hand first (`mailroom doctor` lists them)',
    );
  if (tasks.length > 0 && !opts.force)
    throw refused(
      `agent ${name} still has ${tasks.length} task(s) (e.g. ${tasks[0]!.id} in ${tasks[0]!.box})`,
      `finish or move them, or hand them all to ${to} with: mailroom agent rm ${name} --force`,
    );
  const moved: string[] = [];
  for (const t of tasks) {
    const state = t.parsed.task.state;
    if (t.box === 'inbox' && state !== 'done' && state !== 'failed')
      await reassign(mr, t.id, to, { note: `agent ${name} removed: reassigned to ${to}` });
    else await updateTask(mr, t, (cur) => ({ text: cur.text, moveTo: { agent: to, box: cur.box } }));
    moved.push(t.id);
  }
  await editConfig(mr.layout.configPath, mr.locker, (config) =>
    Object.hasOwn(config.agents, name) ? { keyPath: ['agents', name], remove: true } : undefined,
  );
  const folderKept = !(await removeAgentFolder(mr, name));
  await mr.log({
    type: 'agent.removed',
    agent: name,
    ...(moved.length > 0 ? { moved: moved.length, to } : {}),
  });
  return { moved, folderKept };
}

/** Removes the folder when it holds only empty boxes and the template's files unchanged. */
async function removeAgentFolder(mr: Mailroom, name: string): Promise<boolean> {
  const dir = mr.layout.agentDir(name);
  const template = inboxTemplateDir();
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return true;
    throw err;
  }
  for (const entry of entries) {
    if ((BOXES as readonly string[]).includes(entry)) {
      if ((await readdir(join(dir, entry))).length > 0) return false;
      continue;
    }
    const mine = await readFile(join(dir, entry)).catch(() => undefined);
    const original = await readFile(join(template, entry)).catch(() => undefined);
    if (mine === undefined || original === undefined || !mine.equals(original)) return false;
  }
  for (const entry of entries) {
    if ((BOXES as readonly string[]).includes(entry)) await rmdir(join(dir, entry));
    else await unlink(join(dir, entry));
  }
  await rmdir(dir);
  return true;
}

/** Removes a host; its agents go first (refused while it has any, unless --force removes them too). */
export async function removeHost(
  mr: Mailroom,
  name: string,
  opts: { force?: boolean } = {},
): Promise<{ agents: string[]; moved: string[] }> {
  checkHostName(name);
  if (!Object.hasOwn(mr.config.hosts, name))
    throw refused(`no host named "${name}" in mailroom.yaml`, 'list hosts with: mailroom host ls');
  const agents = Object.entries(mr.config.agents)
    .filter(([, a]) => a?.host === name)
    .map(([n]) => n);
  if (agents.length > 0 && !opts.force)
    throw refused(
      `host ${name} still has agent(s) ${agents.join(', ')}`,
      `remove them first (mailroom agent rm NAME), or remove them with the host and hand their tasks to ${mr.config.escalate_to}: mailroom host rm ${name} --force`,
    );
  const moved: string[] = [];
  for (const agent of agents) moved.push(...(await removeAgent(mr, agent, { force: true })).moved);
  await editConfig(mr.layout.configPath, mr.locker, (config) =>
    Object.hasOwn(config.hosts, name) ? { keyPath: ['hosts', name], remove: true } : undefined,
  );
  // The sync state goes too: a stale base, were the host added again, could turn differences
  // into deletions. The status file is the commit point, so it goes first; then the snapshots and
  // journals, the ledger of tasks sent there (sent.ts), the copy of its last manifest and the note of
  // a far agent that stays there (kept-agent.ts).
  await rm(join(syncDir(mr), `${name}.json`), { force: true });
  const own = [`${name}.sent.json`, `${name}.far-manifest.json`, `${name}.far-agent.json`];
  for (const f of await readdir(syncDir(mr)).catch(() => [] as string[]))
    if (f.startsWith(`${name}~`) || own.includes(f))
      await rm(join(syncDir(mr), f), { force: true, recursive: true });
  await mr.log({ type: 'host.removed', host: name });
  return { agents, moved };
}
