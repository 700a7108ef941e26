// S4: both machines edit the same 200 tasks between sync passes, and the merged result is compared
// with a model computed here from the documented rules (README "What sync promises", docs/sync.md
// "Reconcile rules" and "Merge rules"), not from the code.
//
// Each round, each task may be changed on the hub, on the far side, on both, or not at all, through
// the real operations where there is one: progress notes, state moves (ack, start, done and fail,
// which move the file to the outbox), a retry on the hub (back to the inbox, attempt + 1), archiving
// on the far side, a person's edit of the body or of the priority, and deletes; new tasks appear on
// either side. About one task in ten is a CRLF file with a byte order mark. Then one sync pass (the
// far side is a plain folder behind the same Endpoint interface SFTP implements), and per task:
// both sides must hold the same bytes, and they must be what the model says:
//   - existence: a delete wins only over a version unchanged since the last pass (content and place);
//   - place: moved on one side, that side's; moved on both, the one further along (worker inbox <
//     outbox < sender inbox < archive), a tie going to the hub;
//   - content: changed on one side, that side's bytes exactly; on both, merged by field against the
//     base: a field changed on one side takes that change; changed on both: `state` from the side
//     with the higher attempt, else the one further along (done beats failed), `attempt` the larger,
//     `history` the union in time order, any other field the winning side's; a body changed on both
//     keeps the hub's body followed by a marked conflict section holding the far body.
// Clocks: both sides share one logical clock that ticks a second per operation, so history times are
// distinct (ties are not part of the documented rules).

import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localEndpoint } from '../../src/endpoint/local.js';
import { MailroomError } from '../../src/errors.js';
import { type Mailroom, openMailroom } from '../../src/mailroom.js';
import { archive, progress, retry, transition } from '../../src/ops/lifecycle.js';
import { createTaskFile, updateTask } from '../../src/store/tasks.js';
import { syncHost } from '../../src/sync/pass.js';
import { manifestCopyPath } from '../../src/sync/state.js';
import { applyTaskEdit } from '../../src/task/edit.js';
import { joinFrontmatter, splitFrontmatter } from '../../src/task/frontmatter.js';
import { parseTask } from '../../src/task/parse.js';
import type { Task } from '../../src/task/schema.js';
import { parseYaml } from '../../src/yaml/document.js';
import { pipedAgent } from '../../test/support/agent-pipe.js';
import type { Rng } from '../rng.js';
import { byId, type Figure, iso, makeRoot, sha256, Tally, taskFiles, taskText, tempDir } from '../support.js';

export interface S4Options {
  rng: Rng;
  /** Rounds of edits on both sides followed by one sync pass. */
  trials: number;
  tasks: number;
  log: (line: string) => void;
  verbose?: boolean;
  /** The far side as a plain folder (default) or through the far-agent protocol (in this process). */
  transport?: 'agent' | 'folder';
}

type Fields = Record<string, unknown>;

/** One side's version of a task, as the model sees it. */
interface V {
  loc: string;
  bytes: Buffer;
  hash: string;
  fields: Fields;
  body: string;
  task: Task;
}

type Expect =
  | { exists: false; why: string }
  | {
      exists: true;
      why: string;
      loc: string;
      /** One side's bytes, exactly. */
      exact?: Buffer;
      /** A field merge: every field, and the body. */
      fields?: Fields;
      body?: { is: string } | { local: string; remote: string };
    };

const AGENT = 'research';
const lf = (s: string) => s.replace(/\r\n/g, '\n');

const versions = new Map<string, V | string>();
/** One side's version of a file, remembered by place and content (most files do not change). */
function versionOf(loc: string, bytes: Buffer, id: string): V | string {
  const key = `${id}@${loc}:${sha256(bytes)}`;
  let v = versions.get(key);
  if (v === undefined) {
    v = parseVersion(loc, bytes, id);
    versions.set(key, v);
  }
  return v;
}

function parseVersion(loc: string, bytes: Buffer, id: string): V | string {
  const text = bytes.toString('utf8');
  const parsed = parseTask(text, id);
  if (!parsed.ok) return parsed.problem.reason;
  const y = parseYaml(parsed.value.file.yaml);
  if (!y.ok) return y.problem.message;
  return {
    loc,
    bytes,
    hash: sha256(bytes),
    fields: y.value as Fields,
    body: parsed.value.file.body,
    task: parsed.value.task,
  };
}

async function readSide(root: string): Promise<{ versions: Map<string, V>; bad: string[]; dupes: string[] }> {
  const versions = new Map<string, V>();
  const bad: string[] = [];
  const dupes: string[] = [];
  for (const [id, copies] of byId(await taskFiles(root))) {
    if (copies.length > 1) dupes.push(`${id} at ${copies.map((c) => c.rel).join(', ')}`);
    const c = copies[0]!;
    const v = versionOf(`${c.agent}/${c.box}`, c.bytes, id);
    if (typeof v === 'string') bad.push(`${c.rel}: ${v}`);
    else versions.set(id, v);
  }
  return { versions, bad, dupes };
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}
function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v as Fields)
        .sort()
        .map((k) => [k, canon((v as Fields)[k])]),
    );
  return v;
}

const STATE_RANK: Record<string, number> = { queued: 0, acked: 1, running: 2, done: 3, failed: 3 };

/** How far along its life a place is, for a version (the order the docs give). */
function placeRank(v: V): number {
  const [agent, box] = v.loc.split('/');
  const t = v.task;
  const finished = t.state === 'done' || t.state === 'failed';
  if (box === 'archive') return 4;
  if (finished && box === 'inbox' && agent === t.from && t.from !== t.to) return 3;
  if (box === 'outbox') return 2;
  return 1; // the worker's inbox: where a task's life starts
}

/** The side whose state stands when both changed: higher attempt, else further along, else the hub. */
function winner(l: Task, r: Task): 'local' | 'remote' {
  if (l.attempt !== r.attempt) return l.attempt > r.attempt ? 'local' : 'remote';
  if (l.state === r.state) return 'local';
  if (STATE_RANK[l.state] !== STATE_RANK[r.state])
    return STATE_RANK[l.state]! > STATE_RANK[r.state]! ? 'local' : 'remote';
  return l.state === 'done' ? 'local' : 'remote'; // done beats failed
}

const timeOf = (e: unknown): number => Date.parse(String((e as Fields)?.at));

function unionHistory(l: unknown[], r: unknown[]): unknown[] {
  const out = [...l];
  const used = new Set<number>();
  for (const e of r) {
    const i = l.findIndex((x, j) => !used.has(j) && deepEqual(x, e));
    if (i >= 0) used.add(i);
    else out.push(e);
  }
  return out
    .map((e, i) => ({ e, i }))
    .sort((a, b) => timeOf(a.e) - timeOf(b.e) || a.i - b.i)
    .map((x) => x.e);
}

/** The documented rules, as a function of the base and the two sides' versions of one task. */
export function expected(b: V | undefined, l: V | undefined, r: V | undefined): Expect {
  if (!l && !r) return { exists: false, why: 'deleted on both sides' };
  if (!l || !r) {
    const present = (l ?? r)!;
    const unchanged = b !== undefined && present.hash === b.hash && present.loc === b.loc;
    if (unchanged)
      return { exists: false, why: `deleted on the ${l ? 'far side' : 'hub'}, unchanged on the other` };
    return {
      exists: true,
      why: b ? 'deleted on one side, changed on the other: the change wins' : 'new',
      loc: present.loc,
      exact: present.bytes,
    };
  }
  // Place.
  let loc: string;
  const lMoved = !b || l.loc !== b.loc;
  const rMoved = !b || r.loc !== b.loc;
  if (l.loc === r.loc) loc = l.loc;
  else if (lMoved && !rMoved) loc = l.loc;
  else if (rMoved && !lMoved) loc = r.loc;
  else loc = placeRank(r) > placeRank(l) ? r.loc : l.loc;
  // Content.
  if (l.hash === r.hash) return { exists: true, why: 'same bytes', loc, exact: l.bytes };
  const lChanged = !b || l.hash !== b.hash;
  const rChanged = !b || r.hash !== b.hash;
  if (!rChanged) return { exists: true, why: 'changed on the hub', loc, exact: l.bytes };
  if (!lChanged) return { exists: true, why: 'changed on the far side', loc, exact: r.bytes };
  const w = winner(l.task, r.task);
  const fields: Fields = {};
  for (const key of new Set([
    ...Object.keys(l.fields),
    ...Object.keys(r.fields),
    ...Object.keys(b?.fields ?? {}),
  ])) {
    const lv = l.fields[key];
    const rv = r.fields[key];
    const bv = b?.fields[key];
    let v: unknown;
    if (deepEqual(lv, rv)) v = lv;
    else if (b && deepEqual(lv, bv)) v = rv;
    else if (b && deepEqual(rv, bv)) v = lv;
    else if (key === 'attempt') v = Math.max(Number(lv ?? 1), Number(rv ?? 1));
    else if (key === 'history') v = unionHistory(Array.isArray(lv) ? lv : [], Array.isArray(rv) ? rv : []);
    else v = w === 'local' ? lv : rv; // state, error, and every other field
    if (v !== undefined) fields[key] = v;
  }
  let body: { is: string } | { local: string; remote: string };
  const bodyBase = b ? lf(b.body) : undefined;
  if (lf(l.body) === lf(r.body)) body = { is: lf(l.body) };
  else if (bodyBase !== undefined && lf(l.body) === bodyBase) body = { is: lf(r.body) };
  else if (bodyBase !== undefined && lf(r.body) === bodyBase) body = { is: lf(l.body) };
  else body = { local: lf(l.body), remote: lf(r.body) };
  return { exists: true, why: 'changed on both sides: merged', loc, fields, body };
}

/** Does the version on disk match what the model expects? Undefined when it does, else why not. */
function judge(e: Expect, v: V | undefined): string | undefined {
  if (!e.exists) return v ? `${e.why}, but it is at ${v.loc}` : undefined;
  if (!v) return `${e.why}, but it is gone`;
  if (v.loc !== e.loc) return `${e.why}: expected at ${e.loc}, found at ${v.loc}`;
  if (e.exact) return v.bytes.equals(e.exact) ? undefined : `${e.why}: not that side's bytes`;
  for (const key of new Set([...Object.keys(e.fields ?? {}), ...Object.keys(v.fields)])) {
    if (!deepEqual(e.fields?.[key], v.fields[key]))
      return `${e.why}: field ${key} is ${JSON.stringify(v.fields[key])}, the rules say ${JSON.stringify(e.fields?.[key])}`;
  }
  const body = lf(v.body);
  if (e.body && 'is' in e.body) {
    if (body !== e.body.is) return `${e.why}: the body is not the expected one`;
  } else if (e.body) {
    const at = body.indexOf('sync conflict');
    if (
      !body.startsWith(e.body.local.replace(/\n+$/, '')) ||
      at < 0 ||
      !body.slice(at).includes(e.body.remote.replace(/\n+$/, ''))
    )
      return `${e.why}: the body does not keep the hub body followed by a conflict section with the far body`;
  }
  return undefined;
}

export async function runS4(opts: S4Options): Promise<Figure> {
  const started = Date.now();
  const agentRun = opts.transport === 'agent';
  const tally = new Tally(
    agentRun ? 'S4a' : 'S4',
    agentRun ? 'merge-vs-model-agent' : 'merge-vs-model',
    opts.log,
  );
  const tmp = await tempDir('s4');
  const hub = join(tmp.dir, 'hub');
  const far = join(tmp.dir, 'far');
  let clock = Date.now() - 3_600_000;
  const now = () => {
    clock += 1000;
    return new Date(clock);
  };
  const stats = new Map<string, number>();
  const count = (k: string) => stats.set(k, (stats.get(k) ?? 0) + 1);
  try {
    await makeRoot(
      hub,
      `agents:\n  dispatch: {}\n  human: {}\n  ${AGENT}: { host: vps }\nhosts:\n  vps: { ssh: deploy@203.0.113.7, root: ${far} }\n`,
      // The far agent's boxes exist on the hub too: without them a move on the hub fails (defect D4).
      ['dispatch', 'human', AGENT],
    );
    await makeRoot(far, `agents:\n  human: {}\n  ${AGENT}: {}\n`, [AGENT]);
    const hubMr = await openMailroom(hub, { now });
    const farMr = await openMailroom(far, { now });
    const rng = opts.rng;
    let nextId = 0;
    const create = async (mr: Mailroom, r: Rng) => {
      const id = `s4-${String(nextId++).padStart(5, '0')}`;
      const at = iso(now().getTime());
      // A far host may only create tasks in its own agents' names (docs/spec.md §6).
      const from = mr === farMr ? AGENT : 'dispatch';
      let text = taskText(
        { id, from, to: AGENT, created: at, history: [{ state: 'queued', at, by: from }] },
        `Request ${id}.\n\nDetails line one.\nDetails line two.\n`,
      );
      if (r.chance(0.1)) text = `\uFEFF${text.replace(/\n/g, '\r\n')}`;
      await createTaskFile(mr, AGENT, 'inbox', id, text);
    };
    for (let i = 0; i < opts.tasks; i++) await create(hubMr, rng);
    const sync = async () => {
      if (!agentRun) return syncHost(hubMr, 'vps', { remote: localEndpoint(far) });
      // With the hub's copy of the last manifest, as `mailroom sync` has it: the far side sends changes.
      const remote = await pipedAgent(far, [AGENT], 'vps', manifestCopyPath(hubMr, 'vps'));
      try {
        return await syncHost(hubMr, 'vps', { remote });
      } finally {
        await remote.close();
      }
    };
    await sync();

    for (let round = 0; round < opts.trials; round++) {
      tally.startTrial();
      const r = rng.fork(`round ${round}`);
      const before = (await readSide(hub)).versions; // both sides are equal here: the base
      for (const [side, mr, root] of [
        ['hub', hubMr, hub],
        ['far', farMr, far],
      ] as const) {
        const mine = (await readSide(root)).versions;
        for (const [id, v] of mine) {
          if (!r.chance(0.45)) continue;
          const what = await edit(side, mr, root, id, v, r, round).catch((err: unknown) => {
            if (err instanceof MailroomError) return `refused (${err.message.slice(0, 60)})`;
            throw err;
          });
          count(`${side} ${what.split(' (')[0]}`);
        }
        for (let i = 0; i < (side === 'hub' ? 2 : 1); i++) await create(mr, r);
      }
      const base = before;
      const [L, R] = [await readSide(hub), await readSide(far)];
      let report: Awaited<ReturnType<typeof sync>> | undefined;
      try {
        report = await sync();
      } catch (err) {
        tally.fail(`round ${round + 1}: the sync pass failed: ${String(err)}`);
      }
      if (report && report.problems.length > 0)
        tally.fail(
          `round ${round + 1}: the pass reported problems: ${report.problems
            .slice(0, 2)
            .map((p) => `${p.path}: ${p.reason}`)
            .join('; ')}`,
        );
      const [H, F] = [await readSide(hub), await readSide(far)];
      for (const [side, s] of [
        ['hub', H],
        ['far', F],
      ] as const) {
        if (s.bad.length > 0)
          tally.fail(
            `round ${round + 1}: ${side} has unreadable task files: ${s.bad.slice(0, 2).join('; ')}`,
            s.bad.length,
          );
        if (s.dupes.length > 0)
          tally.fail(`round ${round + 1}: ${side} holds tasks twice: ${s.dupes.slice(0, 2).join('; ')}`);
      }
      const ids = new Set([
        ...base.keys(),
        ...L.versions.keys(),
        ...R.versions.keys(),
        ...H.versions.keys(),
        ...F.versions.keys(),
      ]);
      let wrong = 0;
      for (const id of [...ids].sort()) {
        const e = expected(base.get(id), L.versions.get(id), R.versions.get(id));
        count(`model: ${e.why}`);
        const h = H.versions.get(id);
        const f = F.versions.get(id);
        if (h && f && (!h.bytes.equals(f.bytes) || h.loc !== f.loc)) {
          wrong++;
          tally.fail(
            `round ${round + 1}: ${id}: the sides differ after the pass (hub ${h.loc}, far ${f.loc})`,
          );
          continue;
        }
        const why = judge(e, h) ?? judge(e, f);
        if (why) {
          wrong++;
          // Gone when the rules keep it, or missing a side's change, is a loss.
          const isLoss = (e.exists && !h) || /bytes|body|field (history|state)/.test(why);
          tally.fail(`round ${round + 1}: ${id}: ${why}`, isLoss ? 1 : 0);
        }
      }
      if (opts.verbose)
        opts.log(
          `  S4 round ${round + 1}: ${ids.size} tasks, merged ${report?.merged ?? '-'}, pushed ${report?.pushed ?? '-'}, pulled ${report?.pulled ?? '-'}, deleted ${report?.deleted ?? '-'}; ${wrong} differ from the model`,
        );
    }
  } finally {
    if (tally.failures === 0) await tmp.cleanup();
    else opts.log(`  S4: folders kept for inspection: ${tmp.dir}`);
  }
  const get = (k: string) => stats.get(k) ?? 0;
  tally.facts.push(
    `${opts.tasks} tasks to start with; per task and round: ${get('model: changed on both sides: merged')} merges, ${get('model: changed on the hub')} hub-only and ${get('model: changed on the far side')} far-only changes, ${get('model: deleted on one side, changed on the other: the change wins')} delete-vs-change, ${[...stats].filter(([k]) => k.startsWith('model: deleted on the')).reduce((n, [, v]) => n + v, 0)} deletes`,
    `edits: ${[...stats]
      .filter(([k]) => !k.startsWith('model'))
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  return tally.figure(Date.now() - started);
}

/** One random edit of one task on one side; returns what it did. */
async function edit(
  side: 'hub' | 'far',
  mr: Mailroom,
  root: string,
  id: string,
  v: V,
  r: Rng,
  round: number,
): Promise<string> {
  const t = v.task;
  const [, box] = v.loc.split('/');
  const path = join(root, 'agents', v.loc, `${id}.md`);
  const options: string[] = ['body', 'priority'];
  if (r.chance(0.04)) options.push('delete');
  if (box !== 'archive') {
    if (t.state === 'queued') options.push('ack', 'start', 'fail');
    if (t.state === 'acked') options.push('start', 'start');
    if (t.state === 'running') options.push('note', 'note', 'note', 'done', 'fail');
    if ((t.state === 'done' || t.state === 'failed') && side === 'far') options.push('archive');
    if (t.state === 'failed' && side === 'hub') options.push('retry', 'retry');
  }
  const what = r.pick(options);
  switch (what) {
    case 'ack':
      await transition(mr, id, 'acked');
      break;
    case 'start':
      await transition(mr, id, 'running');
      break;
    case 'note':
      await progress(mr, id, `${side} note in round ${round} (${r.int(1e6)})`);
      break;
    case 'done':
      await transition(mr, id, 'done', { result: `${side} result in round ${round}` });
      break;
    case 'fail':
      await transition(mr, id, 'failed', {
        error: { message: `${side} failure in round ${round}`, retryable: true },
      });
      break;
    case 'retry':
      await retry(mr, id);
      break;
    case 'archive':
      await archive(mr, id);
      break;
    case 'priority':
      await updateTask(mr, id, (cur) => ({
        text: applyTaskEdit(cur.parsed.file, {
          set: { priority: r.pick(['urgent', 'high', 'normal', 'low']) },
        }),
      }));
      break;
    case 'body': {
      // A person's edit in an editor: no lock, a line changed in the middle and one appended.
      const text = (await readFile(path)).toString('utf8');
      const split = splitFrontmatter(text);
      if (!split.ok) throw new Error(`${path}: ${split.reason}`);
      const eol = split.file.eol;
      const body = split.file.body.replace(
        /Details line one\.[^\r\n]*/,
        `Details line one. Edited on the ${side} in round ${round}.`,
      );
      await writeFile(
        path,
        joinFrontmatter({ ...split.file, body: `${body}${side} edit ${round}.${r.int(1e6)}${eol}` }),
      );
      break;
    }
    case 'delete':
      await unlink(path);
      break;
  }
  return what;
}
