// S2: the SSH connection cut at random byte offsets while a sync pass moves files between a hub and a
// far host holding 2,000 task files (a TCP proxy in front of the test sshd drops every connection
// after N bytes in one direction).
//
// Each trial changes a random slice of the 2,000 tasks first: rewrites on the hub, rewrites on the
// far side, both sides (a merge), finishing on the far side (a move to the outbox), deletes on the
// hub; every few trials a bulk rewrite of all 2,000 on the hub. Then one pass runs with a cut armed
// at a random offset (up or down; some in the first few KB: handshake, authentication, listing).
// Checked after the cut pass: every task file on both sides is whole (parses; its bytes are a version
// some writer wrote, or, for a task both sides changed, a merge holding both versions' end markers).
// Checked after the next pass: it completes without problems, both sides hold the same bytes, and
// every change is there (one side changed: that side's version; both: merged; finished on the far
// side: in the outbox on both; deleted on the hub: gone on both).
//
// Locks the cut connection held on the far side are removed before the next pass (the connection is
// gone, so they are dead; they would go stale after 10 s, which test/ssh covers).

import { readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MailroomError } from '../../src/errors.js';
import { openMailroom } from '../../src/mailroom.js';
import { syncHost } from '../../src/sync/pass.js';
import { parseTask } from '../../src/task/parse.js';
import type { CutProxy } from '../../test/support/cut-proxy.js';
import { startCutProxy } from '../../test/support/cut-proxy.js';
import type { Sshd } from '../../test/support/sshd-core.js';
import type { Rng } from '../rng.js';
import {
  BIN,
  byId,
  type Copy,
  type Figure,
  iso,
  makeRoot,
  sha256,
  T0,
  Tally,
  taskFiles,
  taskText,
  tempDir,
} from '../support.js';

export interface S2Options {
  rng: Rng;
  sshd: Sshd;
  trials: number;
  files: number;
  /** Every n-th trial rewrites every file on the hub (default 15; 0: never). */
  bulkEvery?: number;
  log: (line: string) => void;
  verbose?: boolean;
  /** How the hub reaches the far side: its mailroom agent (`mailroom serve`) or SFTP. */
  transport?: 'agent' | 'sftp';
}

type Loc = 'inbox' | 'outbox';

interface Item {
  id: string;
  version: number;
  loc: Loc;
  deleted: boolean;
  /** Hashes of every text any writer put at this id (all sides, all locations). */
  known: Set<string>;
}

const AGENT = 'research';

export async function runS2(opts: S2Options): Promise<Figure> {
  const started = Date.now();
  const transport = opts.transport ?? 'sftp';
  const tally = new Tally(transport === 'agent' ? 'S2a' : 'S2', `ssh-cut-${transport}`, opts.log);
  const tmp = await tempDir('s2');
  const hub = join(tmp.dir, 'hub');
  const far = join(tmp.dir, 'far');
  const s = opts.sshd;
  const rng = opts.rng;
  let proxy: CutProxy | undefined;
  try {
    proxy = await startCutProxy(s.port);
    const knownHosts = join(tmp.dir, 'known_hosts');
    await writeFile(knownHosts, `[127.0.0.1]:${proxy.port} ${s.hostPublicKey}\n`);
    await makeRoot(
      hub,
      `agents:\n  dispatch: {}\n  human: {}\n  ${AGENT}: { host: vps }\nhosts:\n  vps:\n    ssh: ${s.user}@127.0.0.1:${proxy.port}\n    root: ${far}\n    identity: ${s.clientKeyPath}\n    known_hosts: ${knownHosts}\n    mailroom: ${process.execPath} ${BIN}\n`,
      ['dispatch', 'human', AGENT],
    );
    await makeRoot(far, `agents:\n  human: {}\n  ${AGENT}: {}\n`, [AGENT]);

    const items = new Map<string, Item>();
    const text = (it: Item, who: string, loc: Loc) => {
      const body = `version ${it.version} of ${it.id} by ${who}\n\n${'Lorem ipsum dolor sit amet, consectetur. '.repeat(30)}\n-- end ${it.id} v${it.version} ${who} --\n`;
      const at = iso(T0);
      const done = iso(T0 + 60_000 * (it.version + 1));
      const t =
        loc === 'inbox'
          ? taskText({ id: it.id, from: 'dispatch', to: AGENT, created: at }, body)
          : taskText(
              {
                id: it.id,
                from: 'dispatch',
                to: AGENT,
                created: at,
                state: 'done',
                history: [
                  { state: 'queued', at, by: 'dispatch' },
                  { state: 'done', at: done, by: AGENT },
                ],
              },
              body,
            );
      it.known.add(sha256(t));
      return t;
    };
    const pathOf = (root: string, id: string, loc: Loc) => join(root, 'agents', AGENT, loc, `${id}.md`);
    for (let n = 0; n < opts.files; n++) {
      const it: Item = {
        id: `s2-${String(n).padStart(5, '0')}`,
        version: 0,
        loc: 'inbox',
        deleted: false,
        known: new Set(),
      };
      items.set(it.id, it);
      await writeFile(pathOf(hub, it.id, 'inbox'), text(it, 'hub', 'inbox'));
    }
    const pass = async () => {
      const r = await syncHost(await openMailroom(hub), 'vps', { transport });
      if (r.transport?.kind !== transport)
        throw new Error(`the pass used ${r.transport?.kind}, not ${transport}`);
      return r;
    };
    let t = Date.now();
    const first = await pass();
    tally.facts.push(`first push of ${first.pushed} files in ${((Date.now() - t) / 1000).toFixed(1)}s`);

    /** Whole-file check of one side after a cut: every task file parses and is a known version. */
    const checkWhole = async (root: string, side: string, merged: Set<string>) => {
      let bad = 0;
      for (const c of await taskFiles(root)) {
        const it = items.get(c.id);
        // A version some writer wrote is whole by construction (each was a valid task); anything
        // else must at least parse and, for a merge, end with one of the versions' end markers.
        if (it?.known.has(sha256(c.bytes))) continue;
        const parsed = parseTask(c.bytes.toString('utf8'), c.id);
        const whole =
          parsed.ok &&
          it !== undefined &&
          merged.has(c.id) &&
          c.bytes.toString('utf8').includes(`-- end ${c.id} v`);
        if (!whole) {
          bad++;
          tally.fail(
            `${side} ${c.rel} is not a whole version (${parsed.ok ? 'unknown bytes' : parsed.problem.reason})`,
            1,
          );
        }
      }
      return bad;
    };
    const tempFiles = async (root: string) => {
      let n = 0;
      for (const loc of ['inbox', 'outbox'] as const)
        for (const name of await readdir(join(root, 'agents', AGENT, loc)))
          if (name.startsWith('.') && name.includes('.tmp')) n++;
      return n;
    };
    const clearDeadLocks = async () => {
      for (const loc of ['inbox', 'outbox'] as const) {
        const dir = join(far, 'agents', AGENT, loc);
        for (const name of await readdir(dir))
          if (name.endsWith('.lock')) await rm(join(dir, name), { recursive: true, force: true });
      }
    };

    // Calibrate how many bytes a typical trial's pass sends each way.
    let expectUp = 400_000;
    let expectDown = 700_000;
    let cuts = 0;
    let uncut = 0;
    let merges = 0;
    let changed = 0;
    let completedPushes = 0;
    const time = { change: 0, cutPass: 0, check: 0, nextPass: 0 };
    const ids = [...items.keys()];

    for (let trial = 0; trial < opts.trials; trial++) {
      tally.startTrial();
      t = Date.now();
      const r = rng.fork(`trial ${trial}`);
      const every = opts.bulkEvery ?? 15;
      const bulk = every > 0 && trial % every === every - 1;
      const live = ids.filter((id) => !items.get(id)!.deleted);
      const pick = r.shuffle(live);
      const nHub = bulk ? live.length : r.range(20, 150);
      const nFar = bulk ? 0 : r.range(20, 150);
      const nBoth = bulk ? 0 : r.range(0, 15);
      const nDone = bulk ? 0 : r.range(0, 20);
      const nDel = bulk ? 0 : r.range(0, 10);
      const hubSet = pick.slice(0, nHub);
      const farSet = pick.slice(nHub, nHub + nFar);
      const bothSet = pick.slice(nHub + nFar, nHub + nFar + nBoth);
      const doneSet = pick
        .slice(nHub + nFar + nBoth, nHub + nFar + nBoth + nDone)
        .filter((id) => items.get(id)!.loc === 'inbox');
      const delSet = pick.slice(nHub + nFar + nBoth + nDone, nHub + nFar + nBoth + nDone + nDel);
      const expected = new Map<string, { hub?: string; far?: string; merged?: boolean }>();
      for (const id of hubSet) {
        const it = items.get(id)!;
        it.version++;
        await writeFile(pathOf(hub, id, it.loc), text(it, 'hub', it.loc));
      }
      for (const id of farSet) {
        const it = items.get(id)!;
        it.version++;
        await writeFile(pathOf(far, id, it.loc), text(it, 'far', it.loc));
      }
      for (const id of bothSet) {
        const it = items.get(id)!;
        it.version++;
        await writeFile(pathOf(hub, id, it.loc), text(it, 'hub', it.loc));
        await writeFile(pathOf(far, id, it.loc), text(it, 'far', it.loc));
        expected.set(id, { merged: true });
      }
      for (const id of doneSet) {
        const it = items.get(id)!;
        it.version++;
        await writeFile(pathOf(far, id, 'outbox'), text(it, 'far', 'outbox'));
        await unlink(pathOf(far, id, 'inbox'));
        it.loc = 'outbox';
      }
      for (const id of delSet) {
        const it = items.get(id)!;
        await unlink(pathOf(hub, id, it.loc));
        it.deleted = true;
      }
      changed += hubSet.length + farSet.length + bothSet.length + doneSet.length + delSet.length;
      const merged = new Set(bothSet);
      merges += merged.size;
      t = lap(time, 'change', t);

      // The cut pass.
      const early = r.chance(0.1);
      const direction = r.chance(0.75) ? 'up' : 'down';
      const max = bulk
        ? live.length * (direction === 'up' ? 2_600 : 600)
        : direction === 'up'
          ? expectUp
          : expectDown;
      const at = early ? r.range(0, 6_000) : r.range(0, Math.floor(max * 1.1));
      const before = proxy.bytes();
      proxy.armCut(direction, at);
      const cutSeen = proxy.nextCut().then(() => true);
      let cutPassFailed = false;
      try {
        await pass();
      } catch (err) {
        cutPassFailed = true;
        if (!(err instanceof MailroomError) || err.exitCode !== 4)
          tally.fail(
            `the cut pass failed with something other than a network error (exit 4): ${String(err)}`,
          );
      }
      const wasCut = await Promise.race([
        cutSeen,
        new Promise<boolean>((res) => setTimeout(() => res(false), 0)),
      ]);
      // Disarm (a cut at an offset the pass never reached).
      proxy.armCut('up', Number.MAX_SAFE_INTEGER);
      proxy.armCut('down', Number.MAX_SAFE_INTEGER);
      const used = { up: proxy.bytes().up - before.up, down: proxy.bytes().down - before.down };
      if (wasCut) cuts++;
      else {
        uncut++;
        if (!bulk) {
          // Learn the size of a whole pass.
          expectUp = Math.round((expectUp + used.up) / 2);
          expectDown = Math.round((expectDown + used.down) / 2);
        }
      }
      if (!wasCut && cutPassFailed) tally.fail('the pass failed although the connection was never cut');
      t = lap(time, 'cutPass', t);

      await checkWhole(hub, 'hub', merged);
      await checkWhole(far, 'far', merged);
      await clearDeadLocks();
      t = lap(time, 'check', t);

      // The next pass completes.
      let next: Awaited<ReturnType<typeof pass>> | undefined;
      try {
        next = await pass();
        completedPushes += next.pushed;
      } catch (err) {
        tally.fail(`the pass after the cut did not complete: ${String(err)}`);
      }
      if (next && next.problems.length > 0)
        tally.fail(
          `the pass after the cut reported problems: ${next.problems
            .slice(0, 3)
            .map((p) => `${p.path}: ${p.reason}`)
            .join('; ')}`,
        );
      t = lap(time, 'nextPass', t);

      // Both sides equal, with every change.
      let lost = 0;
      const wrong: string[] = [];
      const hubNow = byId(await taskFiles(hub));
      const farNow = byId(await taskFiles(far));
      for (const it of items.values()) {
        const other: Loc = it.loc === 'inbox' ? 'outbox' : 'inbox';
        const at = (m: Map<string, Copy[]>, loc: Loc) => m.get(it.id)?.find((c) => c.box === loc)?.bytes;
        const [h, f, hOther, fOther] = [
          at(hubNow, it.loc),
          at(farNow, it.loc),
          at(hubNow, other),
          at(farNow, other),
        ];
        if (hOther || fOther)
          wrong.push(`${it.id} also at ${other} (${hOther ? 'hub' : ''}${fOther ? ' far' : ''})`);
        if (it.deleted) {
          if (h || f)
            wrong.push(`${it.id} was deleted on the hub but is ${h ? 'on the hub' : 'on the far side'}`);
          continue;
        }
        if (!h || !f) {
          lost++;
          wrong.push(`${it.id} missing at ${it.loc} on ${!h ? 'the hub' : 'the far side'}`);
          continue;
        }
        if (!h.equals(f)) wrong.push(`${it.id}: the two sides differ`);
        const body = h.toString('utf8');
        const e = expected.get(it.id);
        if (e?.merged) {
          if (
            !body.includes(`-- end ${it.id} v${it.version} hub --`) ||
            !body.includes(`-- end ${it.id} v${it.version} far --`)
          ) {
            lost++;
            wrong.push(`${it.id}: the merge lost one side's body`);
          }
        } else if (!body.includes(`-- end ${it.id} v${it.version} `)) {
          lost++;
          wrong.push(
            `${it.id}: version ${it.version} is not there (${/-- end \S+ (v\d+ \w+)/.exec(body)?.[1] ?? '?'})`,
          );
        }
        // From now on the merged text is the version both sides hold.
        it.known.add(sha256(h));
      }
      if (wrong.length > 0)
        tally.fail(
          `after the next pass: ${wrong.length} wrong, first: ${wrong.slice(0, 3).join(' | ')}`,
          lost,
        );
      t = lap(time, 'check', t);
      if (opts.verbose)
        opts.log(
          `  S2 trial ${trial + 1}${bulk ? ' (bulk)' : ''}: cut ${direction} at ${at}${wasCut ? '' : ' (not reached)'}; used up ${used.up} down ${used.down}; next pass pushed ${next?.pushed ?? '-'} pulled ${next?.pulled ?? '-'}; temp files left far ${await tempFiles(far)}`,
        );
    }
    tally.facts.push(
      `${opts.files} files, ${changed} changes, ${merges} merges, ${cuts} passes cut, ${uncut} cut offsets past the end of the pass`,
      `the passes after the cuts pushed ${completedPushes} files; temp files left by cuts: far ${await tempFiles(far)}, hub ${await tempFiles(hub)}`,
      `time: ${Object.entries(time)
        .map(([k, v]) => `${k} ${(v / 1000).toFixed(0)}s`)
        .join(', ')}`,
    );
  } finally {
    await proxy?.close();
    if (tally.failures === 0) await tmp.cleanup();
    else opts.log(`  S2: folders kept for inspection: ${tmp.dir}`);
  }
  return tally.figure(Date.now() - started);
}

function lap<K extends string>(time: Record<K, number>, key: K, since: number): number {
  time[key] += Date.now() - since;
  return Date.now();
}
