// Scans one side of a sync (local folder or far host, through an Endpoint) into what reconcile needs:
// tasks keyed by id (with where they are and a content hash) and other files keyed by path.
// Invariants: a file is re-read only when its size or mtime differ from the SAME side's previous
// scan (sides' clocks are never compared); a file modified within the last seconds before the newest
// mtime on that side is re-read anyway (mtimes over SFTP have whole-second resolution, so a quick
// second edit of the same size could otherwise hide); symlinks are never followed, only reported;
// only the given agents' folders are read.
// The re-read rule is git's "racy" rule: a cached hash is trusted only if the file's mtime was well
// before the moment it was read, both on that side's own clock (the far clock is read from the mtime
// of a probe file written there), so a second edit in the same mtime granule is never missed.

import { DEFAULT_LIMITS, type Limits } from '../config/limits.js';
import type { Endpoint, EntryStat, ReadLimit } from '../endpoint/endpoint.js';
import { MailroomError, refused } from '../errors.js';
import { sha256Hex } from '../hash.js';
import { mapLimit } from '../map-limit.js';
import { isAgentName, isTaskId } from '../names.js';
import { formatSize } from '../size.js';
import { placeRank } from '../store/heal.js';
import { BOXES, type Box, isBox, isNeverATask } from '../store/layout.js';
import { TooBigError, tooBigReason } from '../store/read-file.js';
import { decodeTaskBytes, parseTask } from '../task/parse.js';
import type { KeptListings } from './watched-listings.js';

/** What one side's scan remembers of a file, to skip re-reading it next time. */
export interface SideRecord {
  size: number;
  mtimeMs: number;
  hash: string;
  /** Set for task files: where the task belongs (placeRank) at this content. */
  rank?: number;
  /** When the hash was taken, on this side's clock. */
  checkedAt: number;
}
export type SideCache = Record<string, SideRecord>;

export interface ScannedTask {
  id: string;
  loc: string; // "agent/box"
  path: string; // relative: agents/<agent>/<box>/<id>.md
  hash: string;
  rank: number;
}

export interface SideScan {
  tasks: Map<string, ScannedTask>;
  files: Map<string, { hash: string }>;
  cache: SideCache;
  problems: { path: string; reason: string }[];
  /** How many files were read (not served from the cache): a measure of the scan's cost. */
  reads: number;
  /**
   * Files listed but not read because they are over a size limit or this pass's read budget
   * (docs/spec.md §6). Reported by name; the pass makes no decision about them (never "deleted").
   */
  skipped: Set<string>;
  /** With `keepBytes`: the bytes of files this scan read (hashed just now), for apply to send. */
  read?: Map<string, Buffer>;
  /**
   * Set by a scan the far agent made (its records stay there; `cache` is empty): the size of a path
   * its manifest holds, else undefined. Without it, sizes come from `cache`.
   */
  sizeOf?: (path: string) => number | undefined;
  /**
   * This side's clock as the scan read it (its records' checkedAt), set by scanSide: over SFTP the
   * far clock probe's mtime, so that apply can give the files it writes there a settled mtime.
   */
  clockMs?: number;
}

/** Bytes this pass may still read from one side (shared by everything the pass reads there). */
export interface ReadBudget {
  left: number;
  readonly total: number;
}

/** Margin over mtime granularity (whole seconds over SFTP) and clock steps between write and read. */
const RACY_MS = 2_000;

/**
 * The mtime a sync write gives a file on a local disk (WriteOptions.mtimeMs): settled already, so
 * its record holds at the next scan, and well before any "now" a later write would stamp.
 */
export const settledMtime = (nowMs: number): number => nowMs - RACY_MS - 1_000;

/** Where task `id`'s `bytes` belong at `agent`'s `box` (placeRank); undefined when they are not a task. */
export function rankOf(bytes: Buffer, id: string, agent: string, box: Box): number | undefined {
  const decoded = decodeTaskBytes(bytes);
  const parsed = decoded.ok ? parseTask(decoded.text, id) : undefined;
  return parsed?.ok ? placeRank(parsed.value.task, agent, box) : undefined;
}

/**
 * A scan record for `bytes` just written at `path` (relative) with mtime `setMtimeMs`, as scanSide
 * would make it; undefined when the file is no longer as written (a later write stamps "now").
 */
export function recordOfWritten(
  path: string,
  bytes: Buffer,
  stat: EntryStat | undefined,
  setMtimeMs: number,
  checkedAt: number,
  /** For a task file: its rank here when the writer knows it (no second parse); else it is parsed. */
  rank?: number,
): SideRecord | undefined {
  if (stat?.kind !== 'file' || stat.size !== bytes.length || Math.abs(stat.mtimeMs - setMtimeMs) >= 1)
    return undefined;
  const record: SideRecord = { size: stat.size, mtimeMs: stat.mtimeMs, hash: sha256(bytes), checkedAt };
  const parts = path.split('/');
  const [top, agent, box, name] = parts;
  const id = name?.endsWith('.md') ? name.slice(0, -3) : '';
  if (parts.length === 4 && top === 'agents' && (BOXES as readonly string[]).includes(box!) && isTaskId(id)) {
    const known = rank ?? rankOf(bytes, id, agent!, box as Box);
    if (known !== undefined) record.rank = known;
  }
  return record;
}
const CLOCK_PROBE = '.mailroom-clock';

/**
 * The record's hash still describes the file: same size and mtime as when it was hashed, and that
 * mtime was already settled then (git's racy rule, on the side's own clock), so any write since
 * would have given a newer mtime. Used by the scan, by apply under its lock, and by the fast path.
 */
export function recordHolds(
  record: SideRecord | undefined,
  now: { size: number; mtimeMs: number },
): record is SideRecord {
  return (
    record !== undefined &&
    record.size === now.size &&
    record.mtimeMs === now.mtimeMs &&
    record.mtimeMs < record.checkedAt - RACY_MS
  );
}
/** Agents listed at once. */
const LIST_CONCURRENCY = 8;

/** This side's clock now: the mtime of a probe file written there (never compared with another side). */
export async function sideClock(ep: Endpoint): Promise<number> {
  await ep.writeFileAtomic(
    CLOCK_PROBE,
    Buffer.from("written by mailroom sync to read this machine's clock\n"),
  );
  const st = await ep.stat(CLOCK_PROBE);
  if (!st) throw new Error(`${ep.label}: the clock probe vanished`);
  return st.mtimeMs;
}
const SIDECAR = '.error.txt';

// The one content hash (src/hash.ts), under the name sync's modules use.
export const sha256: (bytes: Uint8Array) => string = sha256Hex;

export function taskPath(id: string, loc: string): string {
  return `agents/${loc}/${id}.md`;
}

/** A name a directory listing can never honestly return; a hostile or broken far side might. */
function impossibleName(name: string): boolean {
  return name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0');
}

interface Found {
  path: string;
  stat: EntryStat;
  task?: { id: string; agent: string; box: Box };
}

/** Recursively list the files of a `<id>.files/` folder. */
async function listTree(
  ep: Endpoint,
  dir: string,
  out: Found[],
  problems: SideScan['problems'],
): Promise<void> {
  for (const e of await ep.list(dir)) {
    const path = `${dir}/${e.name}`;
    if (impossibleName(e.name)) {
      problems.push({
        path: `${dir}/${JSON.stringify(e.name)}`,
        reason: 'impossible file name in a listing: ignored',
      });
      continue;
    }
    if (isNeverATask(e.name)) continue;
    if (e.kind === 'symlink') problems.push({ path, reason: 'symbolic link: not followed, not synced' });
    else if (e.kind === 'dir') await listTree(ep, path, out, problems);
    else if (e.kind === 'file') out.push({ path, stat: e });
  }
}

/** Reads one task file into a ScannedTask; undefined when it is not a readable task. */
async function readTaskAt(
  ep: Endpoint,
  path: string,
  task: { id: string; agent: string; box: Box },
): Promise<ScannedTask | undefined> {
  const bytes = await ep.readFile(path, { maxBytes: DEFAULT_LIMITS.taskFile, limitKey: 'limits.task_file' });
  const rank = rankOf(bytes, task.id, task.agent, task.box);
  if (rank === undefined) return undefined;
  return { id: task.id, loc: `${task.agent}/${task.box}`, path, hash: sha256(bytes), rank };
}

/**
 * Where this side holds the `wanted` ids OUTSIDE the given agents' folders (a task the daemon routed
 * home, escalated or archived elsewhere): names are listed, only wanted ids are read. Links are
 * never followed. Of two copies the one further along wins.
 *
 * A move is link-then-unlink, so a listing of its source box before its destination box always sees
 * it; boxes are listed in the order tasks move through them (inbox, outbox, archive), and ids still
 * missing are looked for once more (a move between agents' boxes listed in the other order).
 */
export async function scanElsewhere(
  ep: Endpoint,
  agents: readonly string[],
  wanted: ReadonlySet<string>,
): Promise<Map<string, ScannedTask>> {
  const out = new Map<string, ScannedTask>();
  let missing = new Set(wanted);
  for (let look = 0; look < 2 && missing.size > 0; look++) {
    const hits: { path: string; task: { id: string; agent: string; box: Box } }[] = [];
    for (const a of await ep.list('agents')) {
      if (a.kind !== 'dir' || agents.includes(a.name) || !isAgentName(a.name)) continue;
      const boxes = new Set(
        (await ep.list(`agents/${a.name}`)).filter((b) => b.kind === 'dir').map((b) => b.name),
      );
      for (const box of BOXES.filter((b) => boxes.has(b))) {
        const dir = `agents/${a.name}/${box}`;
        for (const f of await ep.list(dir)) {
          const id = f.name.endsWith('.md') ? f.name.slice(0, -3) : '';
          if (f.kind === 'file' && missing.has(id) && isTaskId(id))
            hits.push({ path: `${dir}/${f.name}`, task: { id, agent: a.name, box } });
        }
      }
    }
    await mapLimit(hits, 16, async (h) => {
      const t = await readTaskAt(ep, h.path, h.task).catch(() => undefined);
      const existing = t && out.get(t.id);
      if (t && (!existing || t.rank > existing.rank)) out.set(t.id, t);
    });
    missing = new Set([...missing].filter((id) => !out.has(id)));
  }
  return out;
}

/** One agent's files: its own files, its boxes' tasks and their `<id>.files/` trees. */
async function listAgent(
  ep: Endpoint,
  agent: string,
  problems: SideScan['problems'],
  listings: KeptListings | undefined,
): Promise<Found[]> {
  const agentDir = `agents/${agent}`;
  const found: Found[] = [];
  const boxes: { path: string; box: Box }[] = [];
  for (const e of await ep.list(agentDir)) {
    const path = `${agentDir}/${e.name}`;
    if (impossibleName(e.name)) {
      problems.push({
        path: `${agentDir}/${JSON.stringify(e.name)}`,
        reason: 'impossible file name in a listing: ignored',
      });
      continue;
    }
    if (isNeverATask(e.name)) continue;
    if (e.kind === 'symlink') {
      problems.push({ path, reason: 'symbolic link: not followed, not synced' });
      continue;
    }
    if (e.kind === 'file') found.push({ path, stat: e });
    if (e.kind === 'dir' && (BOXES as readonly string[]).includes(e.name))
      boxes.push({ path, box: e.name as Box });
  }
  // The boxes side by side too; each keeps its own problems so the report's order is stable.
  const perBox = await Promise.all(
    boxes.map(async ({ path, box }) => {
      const boxProblems: SideScan['problems'] = [];
      return { found: await listBox(ep, agent, box, path, boxProblems, listings), problems: boxProblems };
    }),
  );
  for (const b of perBox) problems.push(...b.problems);
  return found.concat(...perBox.map((b) => b.found));
}

async function listBox(
  ep: Endpoint,
  agent: string,
  box: Box,
  path: string,
  problems: SideScan['problems'],
  listings: KeptListings | undefined,
): Promise<readonly Found[]> {
  let entries = listings?.get(path);
  if (entries === undefined) {
    entries = await ep.list(path);
    listings?.set(path, entries);
  }
  const memo = boxFound.get(entries);
  if (memo?.path === path) {
    problems.push(...memo.problems);
    return memo.found;
  }
  const found: Found[] = [];
  const first = problems.length;
  let tree = false;
  for (const f of entries) {
    const fpath = `${path}/${f.name}`;
    if (impossibleName(f.name)) {
      problems.push({
        path: `${path}/${JSON.stringify(f.name)}`,
        reason: 'impossible file name in a listing: ignored',
      });
      continue;
    }
    if (isNeverATask(f.name) || f.name.endsWith(SIDECAR)) continue;
    if (f.kind === 'symlink')
      problems.push({ path: fpath, reason: 'symbolic link: not followed, not synced' });
    else if (f.kind === 'dir' && f.name.endsWith('.files')) {
      tree = true;
      await listTree(ep, fpath, found, problems);
    } else if (f.kind === 'file') found.push(boxFile(fpath, f.name, f, agent, box));
  }
  // Kept only where the listing can come back (kept listings); what is below a `.files` folder was
  // listed just now, not vouched for with the box: not kept.
  if (listings && !tree) boxFound.set(entries, { path, found, problems: problems.slice(first) });
  return found;
}

/**
 * A box's entries as found, per listing: a listing a watcher vouches for (watched-listings.ts) is
 * the same array pass after pass, and its 10,000 paths and entries need not be made again at every
 * daemon pass. Entries and their scanned tasks are never changed once made (collect).
 */
const boxFound = new WeakMap<
  readonly EntryStat[],
  { path: string; found: readonly Found[]; problems: SideScan['problems'] }
>();

/** A file directly in `agent`'s `box`: a task when its name is `<id>.md` with a valid id. */
function boxFile(path: string, name: string, stat: EntryStat, agent: string, box: Box): Found {
  const id = name.endsWith('.md') ? name.slice(0, -3) : '';
  return isTaskId(id) ? { path, stat, task: { id, agent, box } } : { path, stat };
}

/** The size a scan holds for `path` (its manifest's for a far agent's scan), or undefined: not in it. */
const sizeIn = (scan: SideScan, path: string): number | undefined =>
  scan.sizeOf ? scan.sizeOf(path) : scan.cache[path]?.size;

/**
 * A scan made by the far agent is held to this machine's size limits too: a task or file over its
 * limit is left out and reported by name, as scanSide does for what it reads itself, so it is never
 * transferred and never taken as deleted. (The per-pass read budget bounds what the hub reads while
 * scanning; with the far agent the hub reads nothing to scan.)
 */
export function limitScan(scan: SideScan, limits: Limits = DEFAULT_LIMITS): SideScan {
  const over = (path: string, task: boolean): boolean => {
    const size = sizeIn(scan, path);
    const [max, key] = task
      ? [limits.taskFile, 'limits.task_file']
      : [limits.attachmentFile, 'limits.attachment_file'];
    if (size === undefined || size <= max) return false;
    scan.problems.push({
      path,
      reason: `${tooBigReason(size, max)} (raise ${key} in mailroom.yaml to take it)`,
    });
    scan.skipped.add(path);
    return true;
  };
  for (const [id, t] of scan.tasks) if (over(t.path, true)) scan.tasks.delete(id);
  for (const path of [...scan.files.keys()]) if (over(path, false)) scan.files.delete(path);
  return scan;
}

/**
 * Tasks a side held at the last sync, id -> `agent/box`: a Map, or the base's tasks read in place
 * (sync/pass.ts: a Map of 10,000 pairs made at every pass was ~10 ms of a daemon's pass).
 */
export interface ExpectedTasks {
  forEach(visit: (loc: string, id: string) => void): void;
}

export interface ScanOptions {
  reportForeignAgents?: boolean;
  /**
   * This side's clock, read before any file is hashed (the records' checkedAt). A promise may still
   * be running while the folders are listed (over SFTP the clock probe is several round trips); it
   * is awaited before the first read, so checkedAt is never later than a read.
   */
  clockMs: number | Promise<number>;
  /**
   * Tasks this side held at the last sync (id -> `agent/box`). One the listing did not find is
   * looked for again, by name in its agent's boxes: a task moved from a box not listed yet to one
   * already listed is seen in neither, and must not read as deleted.
   */
  expect?: ExpectedTasks;
  /** Size limits (task files, other files); defaults as in mailroom.yaml's `limits:`. */
  limits?: Limits;
  /** This pass's read budget on this side; unbounded when absent. */
  budget?: ReadBudget;
  /**
   * Keep the bytes of the files read, up to this many in all: a first sync pushes every file it
   * hashed, and reading each twice cost the hub a third of its time (docs/performance.md).
   */
  keepBytes?: number;
  /**
   * Box listings a watcher vouches for (watched-listings.ts): a box it holds is not listed again, and
   * every box listed is given to it. Absent: every folder is listed.
   */
  listings?: KeptListings;
  /**
   * Give the event loop a turn every few milliseconds of reads (a first pass's cold scan, which
   * runs beside the SSH handshake). Not for a daemon's scans: there the hub's router runs in the same
   * process, and the reads of one scan stay one stretch, as they always were.
   */
  breathe?: boolean;
}

/** One scanSide call: what it found, what it read and what it reports, as its stages fill them in. */
interface ScanRun {
  ep: Endpoint;
  opts: ScanOptions & { clockMs: number };
  limits: Limits;
  found: Found[];
  /** Per entry of `found`: its record (cached or just hashed); undefined when it was not read. */
  records: (SideRecord | undefined)[];
  problems: SideScan['problems'];
  skipped: Set<string>;
  reads: number;
  kept: Map<string, Buffer> | undefined;
  keptBytes: number;
}

/** One side's scan: list, look again for expected tasks the listing missed, hash what changed, collect. */
export async function scanSide(
  ep: Endpoint,
  agents: readonly string[],
  prev: SideCache,
  opts: ScanOptions,
): Promise<SideScan> {
  const problems: SideScan['problems'] = [];
  if (typeof opts.clockMs !== 'number') opts.clockMs.catch(() => {}); // awaited below, unless the listing fails first
  const vouched = new Set<string>();
  const listings: KeptListings | undefined = opts.listings && {
    get: (box) => {
      const entries = opts.listings!.get(box);
      if (entries) vouched.add(box);
      return entries;
    },
    set: (box, entries) => opts.listings!.set(box, entries),
  };
  const found = await listSide(ep, agents, opts.reportForeignAgents === true, problems, listings);
  if (vouched.size > 0) await findUnlisted(ep, prev, vouched, found);
  if (opts.expect) await findMissed(ep, agents, opts.expect, found, listedIds(found));
  const run: ScanRun = {
    ep,
    opts: { ...opts, clockMs: await opts.clockMs },
    limits: opts.limits ?? DEFAULT_LIMITS,
    found,
    records: new Array<SideRecord | undefined>(found.length),
    problems,
    skipped: new Set<string>(),
    reads: 0,
    kept: opts.keepBytes ? new Map<string, Buffer>() : undefined,
    keptBytes: 0,
  };
  await hashFound(run, prev);
  const { tasks, files, cache } = collect(found, run.records);
  const { reads, skipped, kept } = run;
  const clockMs = run.opts.clockMs;
  return { tasks, files, cache, problems, reads, skipped, clockMs, ...(kept ? { read: kept } : {}) };
}

/**
 * Every file of the given agents' folders, in agent order, and (with `reportForeign`) a problem per
 * folder of an agent not configured on the host. Agents are listed side by side (over SFTP their
 * requests pipeline on the one channel, so the far listing costs a few round trips instead of one
 * per folder); what they find and report is kept in agent order all the same.
 */
async function listSide(
  ep: Endpoint,
  agents: readonly string[],
  reportForeign: boolean,
  problems: SideScan['problems'],
  listings: KeptListings | undefined,
): Promise<Found[]> {
  const [foreign, perAgent] = await Promise.all([
    reportForeign ? ep.list('agents') : [],
    mapLimit(
      agents.filter((a) => isAgentName(a)),
      // Over SFTP every listing is round trips: all agents at once (its requests pipeline).
      Math.max(LIST_CONCURRENCY, Math.min(ep.parallelism ?? 0, 64)),
      async (agent) => {
        const agentProblems: SideScan['problems'] = [];
        return { found: await listAgent(ep, agent, agentProblems, listings), problems: agentProblems };
      },
    ),
  ]);
  for (const e of foreign) {
    if (e.kind === 'dir' && !agents.includes(e.name) && !isNeverATask(e.name)) {
      problems.push({
        path: `agents/${e.name}`,
        reason: 'folder of an agent not configured on this host: ignored, never pulled',
      });
    }
  }
  for (const a of perAgent) problems.push(...a.problems);
  return perAgent.flatMap((a) => a.found);
}

function listedIds(found: Found[]): Set<string> {
  const ids = new Set<string>();
  for (const f of found) if (f.task) ids.add(f.task.id);
  return ids;
}

/**
 * Files of this side's last scan (its cache: what it found, and what passes wrote since) in a box
 * whose listing a watcher vouched for, missing from that listing: looked at by name, and added to
 * `found` if they are there. A kept listing lacks a file only if the watcher missed its event; a
 * file missing from it must never be read as deleted (and its deletion carried to the other side).
 */
async function findUnlisted(
  ep: Endpoint,
  prev: SideCache,
  vouched: ReadonlySet<string>,
  found: Found[],
): Promise<void> {
  const listed = new Set<string>();
  for (const f of found) listed.add(f.path);
  const missing: string[] = [];
  // Listed first: nearly every path is, and then no string is cut.
  for (const path of Object.keys(prev))
    if (!listed.has(path) && vouched.has(path.slice(0, path.lastIndexOf('/')))) missing.push(path);
  await mapLimit(missing, 16, async (path) => {
    const st = await ep.stat(path);
    if (st?.kind !== 'file') return; // gone, or no longer a file: the next full look tells
    const [, agent = '', box = '', name = ''] = path.split('/'); // a vouched box: agents/<agent>/<box>
    if (isBox(box)) found.push(boxFile(path, name, st, agent, box));
  });
}

/** Tasks of `expect` the listing missed, looked for by name in their agent's boxes (added to `found`). */
async function findMissed(
  ep: Endpoint,
  agents: readonly string[],
  expect: ExpectedTasks,
  found: Found[],
  listed: { has(id: string): boolean },
): Promise<void> {
  // forEach, not a spread or for-of: no [id, loc] pair made for each of 10,000 expected tasks, nearly
  // all of them listed (checked first, before any string is cut).
  const missing: [id: string, loc: string][] = [];
  expect.forEach((loc, id) => {
    if (listed.has(id)) return;
    const agent = loc.split('/')[0] ?? '';
    if (isTaskId(id) && agents.includes(agent) && isAgentName(agent)) missing.push([id, loc]);
  });
  await mapLimit(missing, 16, async ([id, loc]) => {
    const agent = loc.split('/')[0]!;
    for (const box of BOXES) {
      const path = `agents/${agent}/${box}/${id}.md`;
      const st = await ep.stat(path);
      if (st?.kind === 'file') found.push({ path, stat: st, task: { id, agent, box } });
    }
  });
}

/**
 * Tasks of `expect` that a scan made on the far side (the far agent's manifest) did not find, looked
 * for again by name in their agent's boxes through `ep`, read, and added to `scan`. The far agent
 * looks again only for the tasks its own previous scan saw, and one started after a crash may not
 * know the latest (its cache file is saved when it exits); the base knows them all. Their records
 * are never trusted by a later look (no far clock here): the next scan hashes them again.
 */
export async function lookAgain(
  ep: Endpoint,
  agents: readonly string[],
  expect: ExpectedTasks,
  scan: SideScan,
  limits?: Limits,
): Promise<void> {
  const found: Found[] = [];
  await findMissed(ep, agents, expect, found, scan.tasks);
  const fresh = found.filter((f) => sizeIn(scan, f.path) === undefined);
  if (fresh.length === 0) return;
  const run: ScanRun = {
    ep,
    opts: { clockMs: 0 },
    limits: limits ?? DEFAULT_LIMITS,
    found: fresh,
    records: new Array<SideRecord | undefined>(fresh.length),
    problems: scan.problems,
    skipped: scan.skipped,
    reads: 0,
    kept: undefined,
    keptBytes: 0,
  };
  await hashFound(run, {});
  const more = collect(fresh, run.records);
  Object.assign(scan.cache, more.cache);
  for (const [path, f] of more.files) scan.files.set(path, f);
  for (const [id, t] of more.tasks) scan.tasks.set(id, t);
  scan.reads += run.reads;
}

/**
 * A record for every entry of `found` (run.records): cache hits are settled at once; only the files
 * to re-read wait for IO. Records are then taken in listing order, so which of two copies of one id
 * wins does not depend on timing.
 */
async function hashFound(run: ScanRun, prev: SideCache): Promise<void> {
  const { found, records, ep } = run;
  const misses: number[] = [];
  found.forEach((f, i) => {
    const old = prev[f.path];
    if (recordHolds(old, f.stat)) records[i] = old;
    else misses.push(i);
  });
  // Over a link, reads in flight are what fill the round trips (SFTP pipelines them on one channel).
  // Local reads are synchronous calls: a cold scan of 10,000 tasks holds the event loop for most of
  // a second, and a first sync's SSH handshake, running beside it, stalled that long; with
  // `breathe`, the loop gets a turn every few milliseconds.
  const breather = run.opts.breathe ? new Breather() : undefined;
  await mapLimit(misses, Math.max(16, ep.parallelism ?? 16), async (i) => {
    await breather?.turn();
    return hashOne(run, i);
  });
}

/** Lets the event loop take a turn once `everyMs` of synchronous work has gone by. */
export class Breather {
  private last = performance.now();
  private waiting: Promise<void> | undefined;

  constructor(private readonly everyMs = 4) {}

  /** Resolves at once, or after one turn of the event loop (shared by every caller meanwhile). */
  turn(): Promise<void> | undefined {
    if (this.waiting) return this.waiting;
    if (performance.now() - this.last < this.everyMs) return undefined;
    this.waiting = new Promise<void>((resolve) =>
      setImmediate(() => {
        this.waiting = undefined;
        this.last = performance.now();
        resolve();
      }),
    );
    return this.waiting;
  }
}

/** Read and hash `found[i]` into its record, unless it is over a limit or the budget, or unreadable. */
async function hashOne(run: ScanRun, i: number): Promise<void> {
  const f = run.found[i]!;
  if (overLimit(run, f)) return;
  let bytes: Buffer;
  try {
    bytes = await run.ep.readFile(f.path, limitOf(run.limits, f));
  } catch (err) {
    readFailed(run, f, err);
    return;
  }
  run.reads++;
  if (run.kept && run.keptBytes + bytes.length <= (run.opts.keepBytes ?? 0)) {
    run.kept.set(f.path, bytes);
    run.keptBytes += bytes.length;
  }
  const record: SideRecord = {
    size: f.stat.size,
    mtimeMs: f.stat.mtimeMs,
    hash: sha256(bytes),
    checkedAt: run.opts.clockMs,
  };
  if (f.task) {
    const rank = rankOf(bytes, f.task.id, f.task.agent, f.task.box);
    if (rank !== undefined) record.rank = rank;
  }
  run.records[i] = record;
}

function limitOf(limits: Limits, f: Found): ReadLimit {
  return f.task
    ? { maxBytes: limits.taskFile, limitKey: 'limits.task_file' }
    : { maxBytes: limits.attachmentFile, limitKey: 'limits.attachment_file' };
}

/** Over a limit or the budget: reported by name, skipped; the rest of the pass goes on. */
function overLimit(run: ScanRun, f: Found): boolean {
  const { budget } = run.opts;
  const limit = limitOf(run.limits, f);
  if (f.stat.size > limit.maxBytes) {
    run.problems.push({
      path: f.path,
      reason: `${tooBigReason(f.stat.size, limit.maxBytes)} (raise ${limit.limitKey} in mailroom.yaml to take it)`,
    });
  } else if (budget && f.stat.size > budget.left) {
    run.problems.push({
      path: f.path,
      reason: `${formatSize(f.stat.size)} left for the next pass: this pass read its budget of ${formatSize(budget.total)} (limits.sync_pass)`,
    });
  } else {
    if (budget) budget.left -= f.stat.size;
    return false;
  }
  run.skipped.add(f.path);
  return true;
}

/**
 * A file listed but not read must never read as deleted: the other side's copy would be deleted
 * (or, once the base record is dropped, a deleted copy brought back). Only a file gone since the
 * listing counts as gone, and one grown past its limit is skipped; a lost connection ends the pass,
 * and any other failure stops it before anything changes (thrown).
 */
function readFailed(run: ScanRun, f: Found, err: unknown): void {
  if (err instanceof TooBigError) {
    // It grew past the limit since the listing.
    run.problems.push({
      path: f.path,
      reason: `${tooBigReason(err.size, err.limit)} (raise ${limitOf(run.limits, f).limitKey} in mailroom.yaml to take it)`,
    });
    run.skipped.add(f.path);
    return;
  }
  const reason = err instanceof Error ? err.message : String(err);
  if (err instanceof MailroomError && err.kind === 'notFound') {
    run.problems.push({ path: f.path, reason });
    return;
  }
  if (err instanceof MailroomError && err.kind === 'network') throw err;
  throw refused(
    `${run.ep.label}: cannot read ${f.path} (${reason}); the sync stopped before changing anything`,
    'make the file a readable plain file, or move it out of agents/',
  );
}

/** The scan's result from the records, in listing order: tasks by id, other files by path, the cache. */
function collect(
  found: Found[],
  records: (SideRecord | undefined)[],
): Pick<SideScan, 'tasks' | 'files' | 'cache'> {
  const cache: SideCache = {};
  const tasks = new Map<string, ScannedTask>();
  const files = new Map<string, { hash: string }>();
  found.forEach((f, i) => {
    const record = records[i];
    if (record === undefined) return;
    cache[f.path] = record;
    if (f.task && record.rank !== undefined) {
      const existing = tasks.get(f.task.id);
      // Two copies of one id on one side: keep the one further along; the other is synced as a file.
      if (existing && existing.rank >= record.rank) {
        files.set(f.path, { hash: record.hash });
        return;
      }
      if (existing) files.set(existing.path, { hash: existing.hash });
      tasks.set(f.task.id, scannedTask(f, f.task, record.hash, record.rank));
    } else {
      // Not a task (yet): a note, a result file, a dropped file the hub's daemon will complete.
      files.set(f.path, { hash: record.hash });
    }
  });
  return { tasks, files, cache };
}

/** The task an entry holds at this hash and rank: the one made for it at an earlier pass while they hold. */
function scannedTask(f: Found, task: NonNullable<Found['task']>, hash: string, rank: number): ScannedTask {
  const made = tasksOf.get(f);
  if (made?.hash === hash && made.rank === rank) return made;
  const t = { id: task.id, loc: `${task.agent}/${task.box}`, path: f.path, hash, rank };
  tasksOf.set(f, t);
  return t;
}
const tasksOf = new WeakMap<Found, ScannedTask>();
