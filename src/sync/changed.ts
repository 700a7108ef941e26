// A sync pass limited to the task files one side reported as changed (the daemon's watcher here, or
// the far `mailroom watch`), so that a change reaches the other machine in the time of a few file
// operations instead of a full two-sided scan (docs/sync.md, "Fast path").
//
// It decides with the same reconcile as a full pass, on a narrow scan (the changed side's copy, the
// other side's copies in the boxes where the last sync left the task, that id's base record), once it
// knows the narrow scan is enough: one copy on the changed side, and on the other side one copy in
// those boxes (or, for a new id, none anywhere). It applies a take of the changed side's content,
// through the same applier (its locks and content checks), and one kind of delete: a task that left
// the host's folders on this machine for another agent's box here (the daemon routed it home or
// escalated it), whose far copy reconcile settles as a delete (docs/sync.md, "Fast path"). Anything
// else (any other delete, a merge, a fold, a take the other way, a copy elsewhere, a plain file, a
// task that does not parse, no base yet) returns `full`, and the caller runs a full pass.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_LIMITS, limitsOf } from '../config/limits.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { localEndpoint } from '../endpoint/local.js';
import { MailroomError } from '../errors.js';
import type { Mailroom } from '../mailroom.js';
import { mapLimit } from '../map-limit.js';
import { isAgentName, isTaskId } from '../names.js';
import { MAX_ABSENT_PATHS } from '../remote/protocol.js';
import { BOXES, type Box, isNeverATask } from '../store/layout.js';
import { applyPlan } from './apply.js';
import { hostAgents } from './pass.js';
import { recordQuarantine } from './quarantine.js';
import { reconcile, type Side, type TaskDecision, type TaskVersion } from './reconcile.js';
import {
  rankOf,
  recordHolds,
  type ScannedTask,
  type SideCache,
  type SideScan,
  sha256,
  taskPath,
} from './scan.js';
import { loadSent, saveSent } from './sent.js';
import { keepUnchanged, loadSyncState, type SyncState, saveSyncState, syncDir } from './state.js';

export type ChangedResult =
  | { kind: 'done'; pushed: number; pulled: number; deleted: number; tasks: number }
  | { kind: 'full'; reason: string };

/** Only `agents/...` paths made of plain names (no `..`, no empty parts, no absolute path). */
function isSafeRel(rel: string): boolean {
  const parts = rel.split('/');
  return (
    parts.length >= 2 &&
    parts[0] === 'agents' &&
    parts.every((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('\0'))
  );
}

/** A path from a watcher, relative to the root: `agents/<agent>/<box>/<id>.md`, or undefined. */
function taskOf(rel: string): { agent: string; box: Box; id: string } | undefined {
  const parts = rel.split('/');
  if (parts.length !== 4 || parts[0] !== 'agents') return undefined;
  const [, agent, box, name] = parts as [string, string, string, string];
  if (!isAgentName(agent) || !(BOXES as readonly string[]).includes(box)) return undefined;
  if (!name.endsWith('.md') || isNeverATask(name)) return undefined;
  const id = name.slice(0, -3);
  return isTaskId(id) ? { agent, box: box as Box, id } : undefined;
}

/**
 * The copies of task `id` in the given agents' boxes on one side, hashed. With `cache` (that side's
 * scan records), a file whose size and mtime are what the last full scan recorded, and whose mtime
 * was settled then (the scan's racy rule, on that side's own clock), is not read again.
 */
async function copiesOf(
  ep: Endpoint,
  id: string,
  agents: readonly string[],
  cache: SideCache | undefined,
  reads: Map<string, Buffer>,
): Promise<ScannedTask[] | string> {
  const places = agents.flatMap((agent) => BOXES.map((box) => ({ agent, box })));
  // Without a cache to consult, an endpoint that batches is asked for the bytes at once: one round
  // trip instead of a look and then a read (a far change reaches the hub a round trip sooner).
  const direct = cache === undefined && (ep.parallelism ?? 16) > 16;
  // All at once where the endpoint batches (a far agent: one round trip for every box of 20 agents).
  const found = await mapLimit(places, Math.max(16, ep.parallelism ?? 16), async ({ agent, box }) => {
    const path = taskPath(id, `${agent}/${box}`);
    if (direct) {
      try {
        const bytes = await ep.readFile(path, { maxBytes: DEFAULT_LIMITS.taskFile });
        return { agent, box, path, kind: 'file' as const, size: bytes.length, mtimeMs: 0, bytes };
      } catch (err) {
        if (err instanceof MailroomError && err.kind === 'notFound') return undefined;
        // A link, a folder, a file over the limit: the full pass looks at it properly.
        if (err instanceof MailroomError && err.kind === 'refused')
          return `${path} on ${ep.label}: ${err.message}`;
        throw err;
      }
    }
    const st = await ep.stat(path);
    return st ? { agent, box, path, kind: st.kind, size: st.size, mtimeMs: st.mtimeMs } : undefined;
  });
  const out: ScannedTask[] = [];
  for (const f of found) {
    if (!f) continue;
    if (typeof f === 'string') return f;
    if (f.kind !== 'file') return `${f.path} on ${ep.label} is not a plain file`;
    const seen = cache?.[f.path];
    if (recordHolds(seen, f) && seen.rank !== undefined) {
      out.push({ id, loc: `${f.agent}/${f.box}`, path: f.path, hash: seen.hash, rank: seen.rank });
      continue;
    }
    if (f.size > DEFAULT_LIMITS.taskFile) return `${f.path} on ${ep.label} is over the task file limit`;
    const bytes =
      'bytes' in f && f.bytes ? f.bytes : await ep.readFile(f.path, { maxBytes: DEFAULT_LIMITS.taskFile });
    reads.set(f.path, bytes); // apply sends these bytes: over a far link, a round trip not made again
    const rank = rankOf(bytes, id, f.agent, f.box);
    if (rank === undefined) return `${f.path} on ${ep.label} is not a readable task`;
    out.push({ id, loc: `${f.agent}/${f.box}`, path: f.path, hash: sha256(bytes), rank });
  }
  return out;
}

const scanOf = (tasks: ScannedTask[], read: Map<string, Buffer>): SideScan => ({
  tasks: new Map(tasks.map((t) => [t.id, t])),
  read,
  files: new Map(),
  cache: {},
  problems: [],
  reads: tasks.length,
  skipped: new Set(),
});

type Full = Extract<ChangedResult, { kind: 'full' }>;

/** One fast-path sync, as its stages see it. */
interface FastPass {
  mr: Mailroom;
  host: string;
  /** The side that reported the change, and the other one. */
  side: Side;
  other: Side;
  agents: string[];
  /**
   * On this machine a task may also sit outside the host's folders (routed home, escalated): a new
   * far id is new only if no agent here holds it.
   */
  everyAgentHere: string[];
  local: Endpoint;
  remote: Endpoint;
  /** performance.now() when it began, for the debug timings. */
  started: number;
  /** The bytes the looks read, per side (apply sends them without reading them again). */
  reads: Record<Side, Map<string, Buffer>>;
  /** Per side and id, the agents whose boxes the look covered (ApplyContext.lookedJustNow). */
  looked: Record<Side, Map<string, Set<string>>>;
  /** Per side and id, paths a create there must find absent instead of a look (ApplyContext.absentAt). */
  absent: Record<Side, Map<string, string[]>>;
}

/** What one id's decision needs from the looks: each side's copies, and a copy away from the host's folders. */
interface Seen {
  decision: TaskDecision;
  copies: Record<Side, ScannedTask[]>;
  away?: ScannedTask;
}

/** What one id's look found: a reason for a full pass, a decision to apply, or nothing to do. */
type Look = { full: string } | { apply?: Seen };

/**
 * Sync the tasks at `paths` (relative to the root), changed on `side`, with `host`. The far side must
 * be open already (the daemon's connection). Holds the host's sync lock, like a full pass.
 */
export async function syncChanged(
  mr: Mailroom,
  host: string,
  side: Side,
  paths: readonly string[],
  remote: Endpoint,
): Promise<ChangedResult> {
  const agents = hostAgents(mr, host);
  const local = localEndpoint(mr.layout.root, { label: `local:${mr.layout.root}` });
  remote.newPass?.(); // a kept endpoint forgets what it saw of the far tree in an earlier pass
  const ids = await reportedIds(host, agents, paths, side === 'local' ? local : remote);
  if (!(ids instanceof Map)) return ids;
  if (ids.size === 0) return { kind: 'done', pushed: 0, pulled: 0, deleted: 0, tasks: 0 };
  const other: Side = side === 'local' ? 'remote' : 'local';
  const everyAgentHere = Object.keys(mr.config.agents).sort();
  await mkdir(syncDir(mr), { recursive: true });
  const f: FastPass = {
    mr,
    host,
    side,
    other,
    agents,
    everyAgentHere,
    local,
    remote,
    started: performance.now(),
    reads: { local: new Map(), remote: new Map() },
    looked: { local: new Map(), remote: new Map() },
    absent: { local: new Map(), remote: new Map() },
  };
  return mr.locker(join(syncDir(mr), host), () => lockedFastPass(f, ids));
}

/**
 * The reported paths as task ids, each with the agents whose folders reported it (a move between
 * agents reports both); a path that is not a task file in the host's folders asks for a full pass.
 */
async function reportedIds(
  host: string,
  agents: readonly string[],
  paths: readonly string[],
  ep: Endpoint,
): Promise<Map<string, Set<string>> | Full> {
  const ids = new Map<string, Set<string>>();
  for (const p of paths) {
    const t = taskOf(p);
    if (t) {
      if (!agents.includes(t.agent)) return { kind: 'full', reason: `${p} is not in ${host}'s folders` };
      ids.set(t.id, (ids.get(t.id) ?? new Set()).add(t.agent));
      continue;
    }
    // Temp files and lock folders of a write in progress are not changes; nor is a folder (a box,
    // an agent's folder, a `<id>.files/`): watchers report a folder when its entries change, and
    // the entries are reported themselves. Anything else (AGENT.md, a result file) is a full pass.
    const name = p.split('/').pop() ?? '';
    if (isNeverATask(name)) continue;
    // The host's agents' folders and their boxes are folders by the layout: no look asks (over a far
    // link, that look was a round trip before every streamed change). One replaced by a file or a
    // link is the full pass's to find, as it is when no event reports it.
    if (layoutFolder(p, agents)) continue;
    if (!isSafeRel(p)) return { kind: 'full', reason: `${JSON.stringify(p)} is not a path in the root` };
    const st = await ep.stat(p);
    if (st?.kind === 'dir') continue;
    // A task's result folder that came and went (created empty, then moved with its task).
    if (!st && name.endsWith('.files') && taskOf(`${p.slice(0, -'.files'.length)}.md`)) continue;
    return { kind: 'full', reason: `${p} is not a task file` };
  }
  return ids;
}

/** `agents/<agent>` or `agents/<agent>/<box>` for one of `agents`. */
function layoutFolder(p: string, agents: readonly string[]): boolean {
  const parts = p.split('/');
  if (parts[0] !== 'agents' || parts.length < 2 || parts.length > 3 || !agents.includes(parts[1]!))
    return false;
  return parts.length === 2 || (BOXES as readonly string[]).includes(parts[2]!);
}

const endpointOf = (f: FastPass, s: Side): Endpoint => (s === 'local' ? f.local : f.remote);

function mark(f: FastPass, what: string): void {
  if (process.env.MAILROOM_DEBUG_TIMING)
    process.stderr.write(`  fast path ${what}: ${(performance.now() - f.started).toFixed(0)} ms\n`);
}

/** Under the host's sync lock: look at each id on both sides, then apply the takes, or decline. */
async function lockedFastPass(f: FastPass, ids: Map<string, Set<string>>): Promise<ChangedResult> {
  const { mr, host, side, other } = f;
  mark(f, 'locked');
  const state = await loadSyncState(mr, host);
  mark(f, 'state loaded');
  // Returned unchanged where the fast path declines or finds nothing: the next load needs no parse.
  const untouched = (r: ChangedResult): ChangedResult => {
    keepUnchanged(mr, state);
    return r;
  };
  if (!state.base) return untouched({ kind: 'full', reason: 'no sync yet' });
  const base = state.base;
  // Each id looked at on both sides; the ids side by side (over SFTP their requests pipeline).
  const looks = await mapLimit([...ids], Math.max(16, f.remote.parallelism ?? 16), ([id, reported]) =>
    lookAt(f, state, base, id, reported),
  );
  mark(f, 'looked');
  const decisions: TaskDecision[] = [];
  const scans: Record<Side, ScannedTask[]> = { local: [], remote: [] };
  const away = new Map<string, ScannedTask>();
  for (const look of looks) {
    if ('full' in look) return untouched({ kind: 'full', reason: look.full });
    if (!look.apply) continue;
    const { decision, copies } = look.apply;
    scans[side].push(...copies[side]);
    scans[other].push(...copies[other]);
    if (look.apply.away) away.set(decision.id, look.apply.away);
    decisions.push(decision);
  }
  if (decisions.length === 0) return untouched({ kind: 'done', pushed: 0, pulled: 0, deleted: 0, tasks: 0 });
  return applyDecisions(f, state, decisions, scans, away);
}

/**
 * The records the state keeps for `side`, to know a copy by its stamp; none for a far agent, which
 * keeps its own (sync/pass.ts adoptScans): its copy is then asked for with its bytes, in the one
 * round trip a look would take (with an empty cache, a look and then a read took two).
 */
const keptRecords = (f: FastPass, state: SyncState, s: Side): SideCache | undefined =>
  s === 'remote' && f.remote.scan ? undefined : state[s];

const versionOf = (id: string, t: TaskVersion | undefined) =>
  new Map<string, TaskVersion>(t ? [[id, { loc: t.loc, hash: t.hash, rank: t.rank }]] : []);

/**
 * Task `id` on both sides: a take when the changed side holds one copy and the other side holds
 * exactly the base (or, for a new id, nothing); else why a full pass must decide.
 */
async function lookAt(
  f: FastPass,
  state: SyncState,
  base: NonNullable<SyncState['base']>,
  id: string,
  reported: Set<string>,
): Promise<Look> {
  const { side, other, agents } = f;
  const b = base.tasks[id];
  // On the changed side, the boxes of the agents that reported it and of its place at the last
  // sync (a copy anywhere else is for the next full pass, which looks everywhere).
  const where = new Set(reported);
  if (b) where.add(b.loc.split('/')[0]!);
  const mineAgents = [...where].filter((a) => agents.includes(a)).sort();
  f.looked[side].set(id, new Set(mineAgents));
  const mine = await copiesOf(endpointOf(f, side), id, mineAgents, undefined, f.reads[side]);
  if (typeof mine === 'string') return { full: mine };
  if (mine.length === 0 && !b) return {}; // gone from a side that never synced it: an echo of a delete
  if (mine.length === 0 && b && side === 'local') return lookAway(f, state, b, id);
  if (mine.length !== 1) return { full: `task ${id}: ${mine.length} copies on ${side}` };
  const changed = mine[0]!;
  const theirAgents = b ? [b.loc.split('/')[0]!] : other === 'local' ? f.everyAgentHere : agents;
  f.looked[other].set(id, new Set(theirAgents));
  const theirs = absentInstead(f, id, b === undefined)
    ? []
    : await copiesOf(endpointOf(f, other), id, theirAgents, keptRecords(f, state, other), f.reads[other]);
  if (typeof theirs === 'string') return { full: theirs };
  // The look covered the other side's boxes where the last sync left the task: it must find the
  // task there once (elsewhere or twice is for the full pass, which looks everywhere); a new id must
  // be nowhere there.
  if (b && theirs.length !== 1)
    return { full: `task ${id}: ${theirs.length} copies on ${other} where the last sync left it` };
  if (!b && theirs.length > 0) return { full: `task ${id} is new here and exists there` };
  // The same reconcile as a full pass, on these copies: only a take of the changed side's content
  // is applied here; anything else (a merge, a delete, a take the other way) is the full pass's.
  const [mineV, theirsV] = [versionOf(id, changed), versionOf(id, theirs[0])];
  const d = reconcile({
    base: { tasks: versionOf(id, b), files: new Map() },
    local: { tasks: side === 'local' ? mineV : theirsV, files: new Map() },
    remote: { tasks: side === 'local' ? theirsV : mineV, files: new Map() },
  }).tasks[0];
  if (d === undefined || d.kind === 'same') return {}; // nothing new (an echo)
  if (d.kind === 'take' && d.from === side)
    return { apply: { decision: d, copies: { [side]: [changed], [other]: theirs } as Seen['copies'] } };
  const what = d.kind === 'take' ? `a take from ${d.from}` : `a ${d.kind}`;
  return { full: `task ${id}: ${what}, changed on both sides or moved since the last sync` };
}

/**
 * A new id pushed to an endpoint that checks absent paths in the create itself (a far agent): no look
 * at its boxes first, the create finds every box of the host's agents empty of it or skips (and the
 * full pass decides). One round trip instead of two.
 */
function absentInstead(f: FastPass, id: string, isNew: boolean): boolean {
  if (!isNew || f.other !== 'remote' || !f.remote.createsIfAbsent) return false;
  const paths = f.agents.flatMap((agent) => BOXES.map((box) => taskPath(id, `${agent}/${box}`)));
  if (paths.length > MAX_ABSENT_PATHS) return false;
  f.absent.remote.set(id, paths);
  return true;
}

/**
 * Task `id` left the host's folders on this machine (the last sync left it at `b.loc`): a delete of
 * the far copy when this machine holds it once at another agent's box (routed home, escalated) and
 * reconcile settles the far copy as a delete (unchanged since the base, or the same bytes). A far
 * copy changed since (a fold), a task deleted outright, or one with a result folder is the full
 * pass's: it looks everywhere and guards against mass deletes.
 */
async function lookAway(
  f: FastPass,
  state: SyncState,
  b: NonNullable<SyncState['base']>['tasks'][string],
  id: string,
): Promise<Look> {
  const awayAgents = f.everyAgentHere.filter((a) => !f.agents.includes(a));
  const here = await copiesOf(f.local, id, awayAgents, undefined, f.reads.local);
  if (typeof here === 'string') return { full: here };
  if (here.length !== 1)
    return { full: `task ${id}: gone from ${f.host}'s folders here, ${here.length} copies elsewhere` };
  const files = `agents/${b.loc}/${id}.files/`;
  if (Object.keys(state.base?.files ?? {}).some((p) => p.startsWith(files)))
    return { full: `task ${id} left ${f.host}'s folders with its result files` };
  const farAgent = b.loc.split('/')[0]!;
  f.looked.remote.set(id, new Set([farAgent]));
  const theirs = await copiesOf(f.remote, id, [farAgent], keptRecords(f, state, 'remote'), f.reads.remote);
  if (typeof theirs === 'string') return { full: theirs };
  if (theirs.length !== 1)
    return { full: `task ${id}: ${theirs.length} copies on remote where the last sync left it` };
  const d = reconcile({
    base: { tasks: versionOf(id, b), files: new Map() },
    local: { tasks: new Map(), files: new Map() },
    remote: { tasks: versionOf(id, theirs[0]), files: new Map() },
    elsewhere: versionOf(id, here[0]),
  }).tasks[0];
  if (d?.kind !== 'delete' || d.side !== 'remote')
    return { full: `task ${id}: left ${f.host}'s folders here and changed there (${d?.kind ?? 'nothing'})` };
  return { apply: { decision: d, copies: { local: [], remote: theirs }, away: here[0]! } };
}

/** The decisions through the full pass's applier, then the state saved; any problem asks for a full pass. */
async function applyDecisions(
  f: FastPass,
  state: SyncState,
  decisions: TaskDecision[],
  scans: Record<Side, ScannedTask[]>,
  away: ReadonlyMap<string, ScannedTask>,
): Promise<ChangedResult> {
  const { mr, host, side } = f;
  const sent = await loadSent(mr, host);
  const applied = await applyPlan(
    {
      local: f.local,
      remote: f.remote,
      host,
      scans: { local: scanOf(scans.local, f.reads.local), remote: scanOf(scans.remote, f.reads.remote) },
      elsewhere: away,
      lookedJustNow: f.looked,
      absentAt: f.absent,
      state,
      now: mr.now,
      checkpoint: async () => {},
      hostAgents: f.agents,
      limits: limitsOf(mr.config),
      sent,
    },
    { tasks: decisions, files: [] },
  );
  mark(f, 'applied');
  await saveSent(mr, host, sent, applied.sentChanged === true);
  await recordQuarantine(mr, host, applied.quarantined, { replace: false });
  for (const r of applied.refused) await mr.log({ type: 'sync.refused', host, id: r.id, reason: r.reason });
  // The changed side's scan record is stale now (its size or mtime moved): the next full pass
  // re-reads those files rather than trusting a cached hash.
  for (const t of scans[side]) delete state[side][t.path];
  await saveSyncState(mr, state);
  mark(f, 'saved');
  if (applied.problems.length > 0)
    return { kind: 'full', reason: applied.problems.map((p) => `${p.path}: ${p.reason}`).join('; ') };
  const { pushed, pulled, deleted } = applied;
  if (pushed + pulled + deleted > 0)
    await mr.log({ type: 'sync.pass', host, pushed, pulled, deleted, fast: true });
  return { kind: 'done', pushed, pulled, deleted, tasks: decisions.length };
}
