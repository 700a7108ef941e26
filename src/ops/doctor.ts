// `mailroom doctor`: finds what needs a person — a bad configuration, locks and temp files left by
// crashed processes, unreadable or duplicated tasks, symlinks. With `fix`, removes only what is
// provably garbage (stale locks, old temp files); task files are never touched.

import { lstat, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { MailroomError } from '../errors.js';
import { expandHome } from '../home.js';
import { entryNamesHost, hostKeyName, parseKnownHosts } from '../ssh/known-hosts.js';
import { resolveTargetFromSystem } from '../ssh/resolve-target.js';
import { isTempName } from '../store/atomic.js';
import { listFolder } from '../store/folders.js';
import { healInterruptedMove } from '../store/heal.js';
import { BOXES, type Layout } from '../store/layout.js';
import { fileLocker } from '../store/lock.js';
import { type LoadedTask, listAgentsOnDisk, loadAll, readdirOrEmpty } from '../store/scan.js';
import { loadQuarantine } from '../sync/quarantine.js';

export interface Finding {
  check: string;
  path?: string;
  line?: number;
  problem: string;
  fix: string;
  fixed?: boolean;
}

/** Far tasks a host was not allowed to send (docs/spec.md §6): kept there, never pulled. */
async function checkQuarantine(layout: Layout, config: Config): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const host of Object.keys(config.hosts))
    for (const q of await loadQuarantine(layout, host))
      findings.push({
        check: 'provenance',
        path: `${host}:${q.path}`,
        problem: q.reason,
        fix: `look at it on ${host}; if it is real, send it again from this machine, then delete it there`,
      });
  return findings;
}

const STALE_LOCK_MS = 10_000;
const STALE_TEMP_MS = 60_000;

/** Each host's key must be in its known_hosts before a sync can connect (checked without connecting). */
async function checkHostKeys(config: Config): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [name, host] of Object.entries(config.hosts)) {
    let target: ReturnType<typeof resolveTargetFromSystem>;
    try {
      target = resolveTargetFromSystem(host.ssh);
    } catch (err) {
      findings.push({
        check: 'hosts',
        path: 'mailroom.yaml',
        problem: `hosts.${name}.ssh: ${err instanceof Error ? err.message : String(err)}`,
        fix: 'use user@host[:port] or an alias from ~/.ssh/config',
      });
      continue;
    }
    const file = expandHome(host.known_hosts);
    const text = await readFile(file, 'utf8').catch(() => undefined);
    const key = hostKeyName(target.host, target.port);
    const known = text !== undefined && parseKnownHosts(text).entries.some((e) => entryNamesHost(e, key));
    if (!known) {
      const scan = `ssh-keyscan${target.port === 22 ? '' : ` -p ${target.port}`} ${target.host} >> ${host.known_hosts}`;
      findings.push({
        check: 'hosts',
        path: file,
        problem: `no host key for ${key} (host ${name}) in ${host.known_hosts}: sync will refuse to connect`,
        fix: `${scan}   (then compare the fingerprint with the one the host shows: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)`,
      });
    }
  }
  return findings;
}

export async function doctor(layout: Layout, opts: { fix?: boolean; now?: number } = {}): Promise<Finding[]> {
  const now = opts.now ?? Date.now();
  const findings: Finding[] = [];
  let configured: string[] = [];
  let config: Config | undefined;
  try {
    const loaded = await loadConfig(layout.configPath);
    config = loaded;
    configured = Object.keys(loaded.agents).filter((a) => !loaded.agents[a]?.host);
  } catch (err) {
    findings.push({
      check: 'config',
      path: 'mailroom.yaml',
      problem: err instanceof Error ? err.message : String(err),
      fix: err instanceof MailroomError && err.hint ? err.hint : 'fix mailroom.yaml',
    });
  }
  if (config) findings.push(...(await checkHostKeys(config)));
  if (config) findings.push(...(await checkQuarantine(layout, config)));
  const onDisk = await listAgentsOnDisk(layout);
  for (const agent of configured) {
    if (!onDisk.includes(agent))
      findings.push({
        check: 'folders',
        path: `agents/${agent}`,
        problem: `agent "${agent}" has no folder`,
        fix: `mkdir -p agents/${agent}/inbox agents/${agent}/outbox`,
      });
  }
  // Locks and temp files, in the root (config lock) and every box.
  const dirs = [layout.root, ...onDisk.flatMap((a) => BOXES.map((b) => layout.boxDir(a, b)))];
  findings.push(...(await leftoverFindings(layout, dirs, now, opts.fix === true)));
  findings.push(...(await taskFindings(layout, onDisk, opts.fix === true)));
  return findings;
}

/** Stale locks, temp files and lock owner notes left by interrupted or killed processes. */
async function leftoverFindings(
  layout: Layout,
  dirs: string[],
  now: number,
  fix: boolean,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const dir of dirs) {
    // A box that is a link is never listed (so --fix never removes anything through it); loadAll
    // below reports it.
    const entries = dir === layout.root ? await readdirOrEmpty(dir) : (await listFolder(layout, dir)).entries;
    for (const e of entries) {
      const path = join(dir, e.name);
      // A lock released or a temp file renamed since the listing is simply not there any more.
      const st = await lstat(path).catch(() => undefined);
      if (!st) continue;
      const age = now - st.mtimeMs;
      if (e.isDirectory() && e.name.endsWith('.lock') && age > STALE_LOCK_MS) {
        const f: Finding = {
          check: 'locks',
          path: layout.rel(path),
          problem: `stale lock, last refreshed ${Math.round(age / 1000)}s ago (its process is gone)`,
          fix: 'mailroom doctor --fix removes it',
        };
        if (fix)
          f.fixed = await rm(path, { recursive: true, force: true }).then(
            () => true,
            () => false,
          );
        findings.push(f);
      } else if (e.isFile() && age > STALE_TEMP_MS && (isTempName(e.name) || (await orphanOwnerNote(path)))) {
        const f: Finding = {
          check: 'temp',
          path: layout.rel(path),
          problem: isTempName(e.name)
            ? 'temporary file left by an interrupted write (never a task)'
            : 'lock owner note left by a killed process (never a task)',
          fix: 'mailroom doctor --fix removes it',
        };
        if (fix)
          f.fixed = await rm(path, { force: true }).then(
            () => true,
            () => false,
          );
        findings.push(f);
      }
    }
  }
  return findings;
}

/** Files that do not read as tasks, and tasks in more than one place. */
async function taskFindings(layout: Layout, onDisk: string[], fix: boolean): Promise<Finding[]> {
  const findings: Finding[] = [];
  const { tasks, problems } = await loadAll(layout, { agents: onDisk });
  for (const p of problems) {
    const f: Finding = {
      check: 'tasks',
      path: layout.rel(p.path),
      problem: p.reason,
      fix: 'edit the file by hand; mailroom never rewrites an unreadable file',
    };
    if (p.line !== undefined) f.line = p.line;
    findings.push(f);
  }
  const seen = new Map<string, LoadedTask[]>();
  for (const t of tasks) seen.set(t.id, [...(seen.get(t.id) ?? []), t]);
  for (const [id, copies] of seen) {
    if (copies.length < 2) continue;
    const paths = copies.map((c) => layout.rel(c.path)).join(', ');
    const f: Finding = {
      check: 'duplicates',
      problem: `task ${id} exists in ${copies.length} places: ${paths}`,
      fix: 'if they are one file (a move cut short) --fix completes the move; otherwise the daemon merges them',
    };
    if (fix) f.fixed = (await healInterruptedMove({ layout, locker: fileLocker() }, copies)) !== undefined;
    findings.push(f);
  }
  return findings;
}

/** `.<name>.lock-owner` whose lock folder is gone (store/lock.ts): left by a killed process. */
async function orphanOwnerNote(path: string): Promise<boolean> {
  const name = basename(path);
  if (!name.startsWith('.') || !name.endsWith('.lock-owner')) return false;
  const lockDir = join(dirname(path), `${name.slice(1, -'-owner'.length)}`);
  return lstat(lockDir).then(
    () => false,
    () => true,
  );
}
