// Handlers for init, agent add|rm|ls, host add|rm|ls.

import { resolve } from 'node:path';
import { hostInit as hostInitOp } from '../../src/ops/host-init.js';
import { removeAgent, removeHost } from '../../src/ops/remove.js';
import { addAgent, addHost, initMailroom } from '../../src/ops/setup.js';
import { type CommonOptions, open } from '../context.js';
import { printJson, println, printTable } from '../output.js';

export async function init(dir: string | undefined, opts: CommonOptions): Promise<void> {
  const layout = await initMailroom(resolve(dir ?? opts.root ?? '.'));
  if (opts.json) printJson({ root: layout.root, agents: ['dispatch', 'human'] });
  else {
    println(`created a mailroom at ${layout.root} with agents dispatch and human`);
    println(
      `next: mailroom --root ${layout.root} agent add research   (then: mailroom send research "a title")`,
    );
  }
}

export async function agentAdd(
  name: string,
  opts: CommonOptions & { host?: string; role?: string },
): Promise<void> {
  const mr = await open(opts);
  const o: { host?: string; role?: string } = {};
  if (opts.host !== undefined) o.host = opts.host;
  if (opts.role !== undefined) o.role = opts.role;
  await addAgent(mr, name, o);
  if (opts.json) printJson({ name, ...o });
  else
    println(
      `added agent ${name}${o.host ? ` on host ${o.host}` : ''}${o.role ? ` with role ${o.role}` : ''}`,
    );
}

export async function agentLs(opts: CommonOptions): Promise<void> {
  const mr = await open(opts);
  const agents = Object.entries(mr.config.agents).map(([name, a]) => ({
    name,
    host: a?.host ?? 'local',
    role: a?.role ?? null,
  }));
  if (opts.json) printJson({ agents });
  else printTable([['AGENT', 'HOST', 'ROLE'], ...agents.map((a) => [a.name, a.host, a.role ?? '-'])]);
}

export async function hostAdd(
  name: string,
  target: string,
  opts: CommonOptions & { farRoot: string; identity?: string; knownHosts?: string },
): Promise<void> {
  const mr = await open({ ...opts, root: opts.root });
  const o: { root: string; identity?: string; knownHosts?: string } = { root: opts.farRoot };
  if (opts.identity !== undefined) o.identity = opts.identity;
  if (opts.knownHosts !== undefined) o.knownHosts = opts.knownHosts;
  await addHost(mr, name, target, o);
  if (opts.json) printJson({ name, ssh: target, root: opts.farRoot });
  else
    println(
      `added host ${name} (${target}:${opts.farRoot}); put agents on it with: mailroom agent add NAME --host ${name}`,
    );
}

export async function hostLs(opts: CommonOptions): Promise<void> {
  const mr = await open(opts);
  const hosts = Object.entries(mr.config.hosts).map(([name, h]) => ({
    name,
    ssh: h.ssh,
    root: h.root,
    identity: h.identity ?? null,
    known_hosts: h.known_hosts,
  }));
  if (opts.json) printJson({ hosts });
  else if (hosts.length === 0)
    println('no hosts: everything is local (add one with: mailroom host add NAME USER@HOST --root PATH)');
  else printTable([['HOST', 'SSH', 'ROOT'], ...hosts.map((h) => [h.name, h.ssh, h.root])]);
}

export async function agentRm(name: string, opts: CommonOptions & { force?: boolean }): Promise<void> {
  const mr = await open(opts);
  const r = await removeAgent(mr, name, { force: opts.force === true });
  if (opts.json) return printJson({ name, moved: r.moved, folderKept: r.folderKept });
  const to = mr.config.escalate_to;
  println(`removed agent ${name}${r.moved.length > 0 ? `; ${r.moved.length} task(s) handed to ${to}` : ''}`);
  if (r.folderKept) println(`  agents/${name}/ holds other files, so it was left in place`);
}

export async function hostRm(name: string, opts: CommonOptions & { force?: boolean }): Promise<void> {
  const mr = await open(opts);
  const r = await removeHost(mr, name, { force: opts.force === true });
  if (opts.json) return printJson({ name, agents: r.agents, moved: r.moved });
  println(
    `removed host ${name}${r.agents.length > 0 ? ` and its agent(s) ${r.agents.join(', ')}` : ''}${r.moved.length > 0 ? `; ${r.moved.length} task(s) handed to ${mr.config.escalate_to}` : ''}`,
  );
}

export async function hostInit(name: string, opts: CommonOptions & { force?: boolean }): Promise<void> {
  const mr = await open(opts);
  const r = await hostInitOp(mr, name, { force: opts.force === true });
  if (opts.json) return printJson({ name, ...r });
  println(
    `initialised ${name}: agents ${r.agents.join(', ')} live there; ${r.elsewhere.join(', ') || 'none'} elsewhere`,
  );
  println(
    'version' in r.far
      ? `${name}: mailroom ${r.far.version}`
      : `${name}: no mailroom there: SFTP fallback (${r.far.missing})`,
  );
}
