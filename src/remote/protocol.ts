// The far-agent protocol's vocabulary (docs/sync.md, "The far agent"): versions, caps, message
// shapes and the checks the hub runs on everything the far side sends. The far side is untrusted:
// every size it controls is bounded here and every name it sends is checked (src/names.ts) before
// the hub builds a path from it.

import { z } from 'zod';
import { isAgentName, isTaskId } from '../names.js';
import { isBox } from '../store/layout.js';

/** This build's version, named in the handshake. */
export const MAILROOM_VERSION = '0.1.0';
/**
 * Bumped whenever a message changes shape or meaning; both sides must speak the same one. 2: `put`
 * with `absent` (a far agent of 1 would ignore it, and create where it must not).
 */
export const PROTOCOL_VERSION = 2;
/** The most paths a put's `absent` may name (every box of 256 agents). */
export const MAX_ABSENT_PATHS = 1024;
/** The largest file either side sends in one piece; a bigger one is a per-file problem. */
export const MAX_FILE_BYTES = 32 * 1024 * 1024;
/** A manifest with more entries than this is refused (a runaway or hostile far side). */
export const MAX_MANIFEST_ENTRIES = 2_000_000;
/** Replies the hub waits for at once; further requests queue on the hub (backpressure). */
export const MAX_IN_FLIGHT = 1024;
/** A far side that owes replies and sends nothing for this long is taken as hung. */
export const REPLY_TIMEOUT_MS = 60_000;
/** How long the handshake may take (starting node on the far side included). */
export const HELLO_TIMEOUT_MS = 20_000;

export type Op =
  | 'list'
  | 'stat'
  | 'read'
  | 'write'
  | 'remove'
  | 'mkdirp'
  | 'lock'
  | 'unlock'
  | 'put'
  | 'drop'
  | 'manifest'
  | 'watch';

export interface Request {
  id: number;
  op: Op;
  rel?: string;
  /** base64 file bytes (write, put). */
  data?: string;
  /** sha256 the file must still hold (put, drop); null: the file must be absent (put). */
  expect?: string | null;
  lockId?: number;
  staleMs?: number;
  timeoutMs?: number;
  /** read: refuse a file over this many bytes without sending it (the hub's limits). */
  maxBytes?: number;
  /** manifest: the generation of the last manifest the hub holds (manifest-delta.ts). */
  since?: string;
  /** read: the mailroom.yaml key of that limit, for the message. */
  limitKey?: string;
  /**
   * put of a task file: the rank (placeRank) of this content at this place, as the hub knows it, so
   * the far agent records its write without parsing the task again. A far agent that does not know
   * this field parses, as before.
   */
  rank?: number;
  /**
   * put of a new file (expect null): paths that must not exist either (a task's other boxes), checked
   * just before the create, in the same request. The hub's fast path pushes a new task this way in one
   * round trip instead of a look and then a write.
   */
  absent?: string[];
  /**
   * watch: also send each scan made ahead between passes as an `ahead` frame, the change since the
   * last manifest, unasked (a daemon's next full pass then need not ask). Not asked: never sent.
   */
  ahead?: boolean;
}

export type Reply =
  | { id: number; ok: true; value?: unknown }
  | { id: number; ok: false; kind: string; message: string };

/** hub -> far, first frame. `agents` scopes every write to those agents' folders. */
export interface HubHello {
  t: 'hello';
  protocol: number;
  version: string;
  agents?: string[];
  /**
   * `manifest`: the hub's first request will be a manifest, so the far agent starts that scan as soon
   * as it has the hello, during the round trip its answer takes. A far agent that does not know this
   * field waits for the request, as before.
   */
  prefetch?: 'manifest';
  /** With `prefetch`: the generation of the last manifest the hub holds, for the prefetched reply. */
  since?: string;
  /**
   * How long (ms) the far agent may stay once the hub hangs up, reachable on a Unix socket for the
   * next connection (resident.ts; hosts.<h>.keep_agent). Absent or 0: it ends with the channel.
   */
  stay?: number;
}

/** The longest stay a hub may ask for; a far agent caps what it is asked at this. */
export const MAX_STAY_MS = 24 * 3600_000;
/** The longest socket path either side takes (a Unix socket's path is at most 104-108 bytes). */
export const MAX_SOCKET_PATH = 100;

export const HASH = /^[0-9a-f]{64}$/;
const text = (max: number) => z.string().max(max);
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const time = z.number().finite();

export const FarHelloSchema = z.object({
  t: z.literal('hello'),
  protocol: z.number().int(),
  version: text(64),
  /** Set when the far side refuses our protocol; it then exits. */
  refused: text(500).optional(),
  /** The socket where an agent stays for the next connection (HubHello.stay); checked by the hub. */
  stay: text(MAX_SOCKET_PATH).optional(),
});

export const FarFrameSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('res'),
    res: z
      .array(
        z.union([
          z.object({ id: count, ok: z.literal(true), value: z.unknown().optional() }),
          z.object({ id: count, ok: z.literal(false), kind: text(32), message: text(2000) }),
        ]),
      )
      .max(MAX_IN_FLIGHT),
  }),
  z.object({ t: z.literal('changed'), paths: z.array(text(4096)).max(100_000) }),
  // Checked with checkDelta by the endpoint that asked for it (watch with `ahead`).
  z.object({ t: z.literal('ahead'), delta: z.unknown() }),
]);

export const EntrySchema = z.object({
  name: text(255),
  kind: z.enum(['file', 'dir', 'symlink', 'other']),
  size: count,
  mtimeMs: time,
});
export const StatSchema = EntrySchema.nullable();
export const ListSchema = z.array(EntrySchema).max(MAX_MANIFEST_ENTRIES);
export const BytesSchema = z.string().max(Math.ceil((MAX_FILE_BYTES * 4) / 3) + 4);
export const LockSchema = z.object({ lockId: count });
export const OutcomeSchema = z.union([
  z.object({ done: z.enum(['written', 'same', 'removed', 'absent']) }),
  z.object({ skip: text(2000) }),
]);
export type Outcome = z.infer<typeof OutcomeSchema>;

/** [size, mtimeMs, hash, rank or null, checkedAt]: one file's scan record, far-computed. */
export type ManifestRecord = [
  size: number,
  mtimeMs: number,
  hash: string,
  rank: number | null,
  checkedAt: number,
];

/** The far side's scan of its agents' folders, in one reply (`manifest`). */
export interface Manifest {
  records: Record<string, ManifestRecord>;
  tasks: [id: string, path: string][];
  files: string[];
  problems: { path: string; reason: string }[];
  reads: number;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function isRecord(v: unknown): v is ManifestRecord {
  return (
    Array.isArray(v) &&
    v.length === 5 &&
    isCount(v[0]) &&
    isTime(v[1]) &&
    typeof v[2] === 'string' &&
    HASH.test(v[2]) &&
    (v[3] === null || Number.isSafeInteger(v[3])) &&
    isTime(v[4])
  );
}

const isTaskPair = (v: unknown): v is [string, string] =>
  Array.isArray(v) && v.length === 2 && isText(v[0], 128) && isText(v[1], 4096);

const isProblem = (v: unknown): boolean => isPlain(v) && isText(v.path, 4096) && isText(v.reason, 2000);

/**
 * A manifest as received (parsed JSON), checked in place: the shape and every bound, or undefined.
 * Written out rather than a zod schema: a manifest of 10,000 tasks arrives at every full pass, and
 * zod's copy of each record was about 25 MB of garbage per pass in an idle daemon (docs/performance.md,
 * "Idle memory"). test/remote/manifest-check.test.ts holds it to the zod schema it replaced.
 */
export function checkManifest(v: unknown): Manifest | undefined {
  if (!isPlain(v)) return undefined;
  const { records, tasks, files, problems, reads } = v;
  if (!isPlain(records) || !Array.isArray(tasks) || !Array.isArray(files)) return undefined;
  const keys = Object.keys(records);
  const ok =
    boundsOk(keys.length, tasks.length, files.length, reads) &&
    entriesOk(records, keys, tasks, files, problems);
  return ok ? (v as unknown as Manifest) : undefined;
}

/**
 * A manifest made of one that passed checkManifest (the hub's kept copy) and a change to it
 * (manifest-delta.ts applyDelta), checked as checkManifest would check it whole: the bounds on the
 * whole, every entry only where the change brought it (10,000 records tested again at every pass
 * was ~25 ms of a one-shot pass after the far reply).
 */
export function checkMerged(
  merged: Manifest,
  change: Pick<Manifest, 'records' | 'tasks' | 'problems'> & { filesAdded: string[] },
): Manifest | undefined {
  const { records, tasks, files, reads } = merged;
  const ok =
    boundsOk(Object.keys(records).length, tasks.length, files.length, reads) &&
    entriesOk(change.records, Object.keys(change.records), change.tasks, change.filesAdded, change.problems);
  return ok ? merged : undefined;
}

/** The sizes a manifest may have (checked before any entry is looked at), and its read count. */
const boundsOk = (records: number, tasks: number, files: number, reads: unknown): boolean =>
  isCount(reads) &&
  records <= MAX_MANIFEST_ENTRIES &&
  tasks <= MAX_MANIFEST_ENTRIES &&
  files <= MAX_MANIFEST_ENTRIES;

/** Every entry of these parts of a manifest well formed: task pairs, file names, problems, records. */
function entriesOk(
  records: Record<string, unknown>,
  keys: readonly string[],
  tasks: readonly unknown[],
  files: readonly unknown[],
  problems: unknown,
): boolean {
  if (!tasks.every(isTaskPair) || !files.every((f) => isText(f, 4096))) return false;
  if (!Array.isArray(problems) || problems.length > 10_000 || !problems.every(isProblem)) return false;
  for (const key of keys) if (key.length > 4096 || !isRecord(records[key])) return false;
  return true;
}

/** A path under one of `agents`' folders, each part a plain name: what a far side may name. */
export function agentPath(rel: string, agents: readonly string[]): boolean {
  if (rel.length > 4096 || !rel.startsWith('agents/')) return false;
  const parts = rel.split('/');
  if (parts.length < 3 || !agents.includes(parts[1]!) || !isAgentName(parts[1]!)) return false;
  // A plain loop: a one-shot pass checks 10,000 paths, mostly in the interpreter.
  for (let i = 2; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === '' || p === '.' || p === '..' || p.length > 255 || p.includes('\0')) return false;
  }
  return true;
}

/** `agents/<agent>/<box>/<id>.md` of an agent in `agents`, with a valid id: the task's id and path. */
export function taskPathOk(id: string, path: string, agents: readonly string[]): boolean {
  return agentPath(path, agents) && taskShapeOk(id, path);
}

/** taskPathOk for a path agentPath already accepted: `<box>/<id>.md` under the agent's folder. */
export function taskShapeOk(id: string, path: string): boolean {
  const parts = path.split('/');
  return parts.length === 4 && isBox(parts[2]!) && isTaskId(id) && parts[3] === `${id}.md`;
}

/** Which side to upgrade, for a person. */
export function mismatchMessage(
  host: string,
  far: { protocol: number; version: string },
  hub: string,
): string {
  const side =
    far.protocol < PROTOCOL_VERSION
      ? `upgrade mailroom on ${host} (it has ${far.version}, protocol ${far.protocol}; this machine has ${hub}, protocol ${PROTOCOL_VERSION})`
      : `upgrade mailroom on this machine (it has ${hub}, protocol ${PROTOCOL_VERSION}; ${host} has ${far.version}, protocol ${far.protocol})`;
  return side;
}
