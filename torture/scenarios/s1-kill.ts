// S1: SIGKILL of the daemon at random moments while it routes and syncs a stream of tasks.
//
// A hub with two local workers (w0, w1) and two workers on a far host (r0, r1, behind the test sshd;
// the daemon syncs with it over SSH and follows its changes with `mailroom watch`). The torture
// process plays dispatch (sends tasks, archives some that come back) and the four workers (ack,
// start, progress notes, done) through the library, on the side each worker lives on. The daemon
// routes finished tasks home and syncs. Each trial: let everything run for a random time, SIGKILL
// the daemon, pause the actors, restart the daemon, wait for its first pass and its first completed
// sync pass, then check:
//   - every task sent so far exists exactly once on the hub (a crash may leave two links of one file
//     for at most a pass) and at most once on the far side;
//   - every task file on both sides parses;
//   - no acknowledged edit is lost: each progress note and state a worker was told had been written
//     is in some copy of the task (hub or far; sync may not have carried it yet).
// At the end the actors finish every task and the daemon converges: each task once, home in
// dispatch's inbox or archive, with every acknowledged note, and nothing left on the far side.
//
// Locks held by the killed daemon on the hub are removed before the restart (its holder is dead, and
// waiting out the 10 s stale time per trial would only slow the torture down; stale take-over is
// tested in test/ssh and test/store). The daemon's own single-instance lock is left, so its take-over
// is tested. The far side's locks are left alone: the far agent of the dead connection holds them
// while it finishes what it had in hand, and releases them itself.

import { lstat, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { MailroomError } from '../../src/errors.js';
import { type Mailroom, openMailroom } from '../../src/mailroom.js';
import { archive, progress, transition } from '../../src/ops/lifecycle.js';
import { farCacheOf } from '../../src/remote/far-scan.js';
import { createTaskFile, loadTask } from '../../src/store/tasks.js';
import { loadSent } from '../../src/sync/sent.js';
import { loadSyncState } from '../../src/sync/state.js';
import { parseTask } from '../../src/task/parse.js';
import { RANK, type TaskState } from '../../src/task/state.js';
import type { Sshd } from '../../test/support/sshd-core.js';
import type { Rng } from '../rng.js';
import {
  BIN,
  byId,
  type Copy,
  clearDeadLocks,
  DaemonProc,
  type DefectId,
  type Figure,
  makeRoot,
  processesWith,
  sha256,
  Tally,
  type Tally as TallyT,
  taskFiles,
  taskText,
  tempDir,
  waitFor,
} from '../support.js';

export interface S1Options {
  rng: Rng;
  sshd: Sshd;
  trials: number;
  tasks: number;
  log: (line: string) => void;
  verbose?: boolean;
  tolerate?: ReadonlySet<DefectId>;
}

const LOCAL_WORKERS = ['w0', 'w1'] as const;
const FAR_WORKERS = ['r0', 'r1'] as const;
/**
 * A far agent nobody works for: it holds a backlog of parked tasks, so that the far side never has
 * more than half of its files finished and routed home in one interval. Without it, defect D1 (the
 * mass-delete guard refusing the routine clean-up of routed tasks) stops the sync after the first
 * burst and the rest of the run would test nothing (D1 has its own regression test).
 */
const PARKED = 'parked';
const PARKED_TASKS = 100;
const WORKERS = [...LOCAL_WORKERS, ...FAR_WORKERS];

interface Model {
  id: string;
  worker: string;
  far: boolean;
  /** Notes a worker was told had been written. */
  notes: string[];
  /** The furthest state a worker was told had been written. */
  state: TaskState;
  archived: boolean;
}

export async function runS1(opts: S1Options): Promise<Figure> {
  const started = Date.now();
  const tally = new Tally('S1', 'sigkill-daemon', opts.log, opts.tolerate);
  const tmp = await tempDir('s1');
  const hub = join(tmp.dir, 'hub');
  const far = join(tmp.dir, 'far');
  const env = { SSH_AUTH_SOCK: '' };
  const s = opts.sshd;
  await makeRoot(
    hub,
    [
      'agents:',
      '  dispatch: {}',
      '  human: {}',
      ...LOCAL_WORKERS.map((w) => `  ${w}: {}`),
      ...FAR_WORKERS.map((w) => `  ${w}: { host: vps }`),
      `  ${PARKED}: { host: vps }`,
      'hosts:',
      '  vps:',
      `    ssh: ${s.user}@127.0.0.1:${s.port}`,
      `    root: ${far}`,
      `    identity: ${s.clientKeyPath}`,
      `    known_hosts: ${s.knownHostsPath}`,
      `    mailroom: ${process.execPath} ${BIN}`,
      'sync:',
      '  interval: 1s',
      'escalate_to: human',
      '',
    ].join('\n'),
    ['dispatch', 'human', ...LOCAL_WORKERS],
  );
  await makeRoot(
    far,
    `agents:\n  human: {}\n${FAR_WORKERS.map((w) => `  ${w}: {}`).join('\n')}\n`,
    FAR_WORKERS,
  );

  for (let n = 0; n < PARKED_TASKS; n++) {
    const id = `s1-parked-${n}`;
    await mkdir(join(hub, 'agents', PARKED, 'inbox'), { recursive: true });
    await writeFile(
      join(hub, 'agents', PARKED, 'inbox', `${id}.md`),
      taskText({ id, from: 'dispatch', to: PARKED }, 'Parked.\n'),
    );
  }
  const hubMr = await openMailroom(hub);
  const farMr = await openMailroom(far);
  const rng = opts.rng;
  const model = new Map<string, Model>();
  let created = 0;
  let acknowledged = 0;
  const opErrors = new Map<string, number>();
  let paused = false;
  let stopping = false;
  const inFlight = new Set<Promise<unknown>>();

  /** Runs one actor step unless paused; the pause waits for steps in flight. */
  const step = async (fn: () => Promise<void>) => {
    if (paused || stopping) return;
    const p = fn().catch((err: unknown) => {
      const key = err instanceof MailroomError ? err.kind : `other: ${String(err).slice(0, 80)}`;
      opErrors.set(key, (opErrors.get(key) ?? 0) + 1);
    });
    inFlight.add(p);
    await p;
    inFlight.delete(p);
  };
  const pause = async () => {
    paused = true;
    await Promise.all([...inFlight]);
  };

  const send = async (n: number) => {
    const id = `s1-${String(n).padStart(5, '0')}`;
    const worker = rng.pick(WORKERS);
    const body = `Task ${n} for ${worker}.\n\n${'Lorem ipsum dolor sit amet. '.repeat(rng.range(1, 40))}\n`;
    await createTaskFile(hubMr, worker, 'inbox', id, taskText({ id, from: 'dispatch', to: worker }, body));
    model.set(id, {
      id,
      worker,
      far: (FAR_WORKERS as readonly string[]).includes(worker),
      notes: [],
      state: 'queued',
      archived: false,
    });
  };

  /** A worker takes the next step on one task in its inbox. */
  const work = async (worker: string, r: Rng) => {
    const far = (FAR_WORKERS as readonly string[]).includes(worker);
    const mr: Mailroom = far ? farMr : hubMr;
    const mine = [...model.values()].filter((m) => m.worker === worker && m.state !== 'done');
    if (mine.length === 0) return;
    const m = r.pick(mine);
    // Only this worker changes the task's state on its side, so the model knows it; a far task sync
    // has not brought yet makes the step fail (not found), which is counted, not acknowledged.
    const state = m.state;
    let after: TaskState;
    if (state === 'queued') {
      await transition(mr, m.id, 'acked');
      after = 'acked';
    } else if (state === 'acked') {
      await transition(mr, m.id, 'running');
      after = 'running';
    } else if (state === 'running' && (m.notes.length < 1 || r.chance(0.35))) {
      const note = `${m.id} note ${m.notes.length + 1} by ${worker}`;
      await progress(mr, m.id, note);
      m.notes.push(note);
      after = 'running';
    } else if (state === 'running') {
      await transition(mr, m.id, 'done', { result: `result of ${m.id}` });
      after = 'done';
    } else return;
    if (RANK[after] > RANK[m.state]) m.state = after;
    acknowledged++;
  };

  /** Dispatch files away some finished tasks that came home. */
  const fileAway = async (r: Rng) => {
    const home = [...model.values()].filter((m) => m.state === 'done' && !m.archived);
    if (home.length === 0) return;
    const m = r.pick(home);
    const t = await loadTask(hubMr, m.id).catch(() => undefined);
    if (t?.agent !== 'dispatch' || t.box !== 'inbox') return;
    await archive(hubMr, m.id, { as: 'dispatch' });
    m.archived = true;
    acknowledged++;
  };

  // Actor loops: each worker, and dispatch archiving, with small random pauses.
  const actors = [
    ...WORKERS.map((w) => ({ name: w, fn: (r: Rng) => work(w, r) })),
    { name: 'dispatch', fn: fileAway },
  ].map(async ({ name, fn }) => {
    const r = rng.fork(`actor ${name}`);
    while (!stopping) {
      await step(() => fn(r));
      await delay(r.range(1, 10));
    }
  });

  const perTrial = Math.max(1, Math.ceil(opts.tasks / Math.max(1, opts.trials)));
  let daemon = await DaemonProc.start(hub, ['--rescan', '1s'], env);
  let healedSeen = 0;
  let killsMidSync = 0;
  let farAgentsOutlived = 0;
  let repaired = 0;
  const seen = new Set<string>();
  const phase = { run: 0, restart: 0, firstPass: 0, firstSync: 0, check: 0 };
  const lap = (key: keyof typeof phase, since: number) => {
    phase[key] += Date.now() - since;
    return Date.now();
  };
  try {
    for (let trial = 0; trial < opts.trials; trial++) {
      tally.startTrial();
      // New work for this trial.
      while (created < Math.min(opts.tasks, (trial + 1) * perTrial)) await send(created++);
      paused = false;
      let t = Date.now();
      await delay(rng.range(0, 1500));
      t = lap('run', t);
      // The sync pass holds .mailroom/sync/vps.lock while it runs: count the kills that land in one.
      if (
        await lstat(join(hub, '.mailroom/sync/vps.lock')).then(
          () => true,
          () => false,
        )
      )
        killsMidSync++;
      // The actors stop first (their steps in flight finish: the daemon still releases its locks),
      // so that every lock left after the kill is the dead daemon's and can be removed.
      await pause();
      t = lap('run', t);
      await daemon.kill();
      // The far agent of the dead connection may still be finishing the requests it had in hand,
      // under their locks, while the new daemon connects and scans (D14): the far locks are alive,
      // and it releases them itself when it exits. Only the hub's locks died with the daemon.
      if ((await processesWith(`serve --root ${far}`)).length > 0) farAgentsOutlived++;
      await clearDeadLocks(hub);
      const restartAt = Date.now();
      try {
        daemon = await DaemonProc.start(hub, ['--rescan', '1s'], env);
        t = lap('restart', t);
        await daemon.passes(1);
        t = lap('firstPass', t);
        await waitFor(
          'the first sync pass after the restart',
          async () => {
            const st = JSON.parse(
              await readFile(join(hub, '.mailroom/sync/vps.json'), 'utf8').catch(() => '{}'),
            ) as { lastSyncAt?: string; lastAttemptAt?: string; lastError?: string };
            return st.lastSyncAt !== undefined && Date.parse(st.lastSyncAt) >= restartAt;
          },
          20_000,
        );
        t = lap('firstSync', t);
      } catch (err) {
        const status = await daemon.status();
        const what = `restart: ${(err as Error).message}; the daemon has made ${status?.passes ?? '?'} passes since it started ${((Date.now() - restartAt) / 1000).toFixed(0)}s ago; it said: ${daemon.output().slice(-300)}`;
        // D10: a task it cannot route makes the daemon pass again and again, and the sync never starts.
        if ((status?.passes ?? 0) > 40 && /cannot move task/.test(status?.lastError ?? ''))
          tally.defect('D10', what);
        else tally.fail(what);
      }
      healedSeen += await check(tally, hub, far, model, seen, false);
      // D2's duplicates are the same bytes twice: remove the stale copy, as `mailroom doctor` tells a
      // person to, so that the rest of the run tests something (D10 would otherwise stall it).
      repaired += await repairD2(hub);
      lap('check', t);
      if (opts.verbose && trial % 10 === 9)
        opts.log(`  S1 after ${trial + 1} trials: ${JSON.stringify(phase)} ms in all`);
    }

    // Let the actors finish every task, and the daemon bring everything home.
    while (created < opts.tasks) await send(created++);
    paused = false;
    // Wait while things move. Without progress for 8 s: if every stuck task is a D2 or D11 leftover,
    // count it, remove the stale copy (as in the trials) and wait on; otherwise give up.
    let best = -1;
    let lastProgress = Date.now();
    let home = 0;
    let sweeps = 0;
    for (;;) {
      const all = [...model.values()];
      const hubCopies = byId(await taskFiles(hub));
      home = all.filter((m) => {
        const c = hubCopies.get(m.id);
        return m.state === 'done' && c?.length === 1 && c[0]!.agent === 'dispatch';
      }).length;
      const progress = home + all.filter((m) => m.state === 'done').length + acknowledged;
      if (home === all.length) break;
      if (progress > best) {
        best = progress;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress > 8_000) {
        tally.startFinalCheck();
        const stuck = all.filter((m) => {
          const c = hubCopies.get(m.id);
          return !(m.state === 'done' && c?.length === 1 && c[0]!.agent === 'dispatch');
        });
        const what = `${home} of ${all.length} tasks done and home once; no progress for 8 s`;
        const d11Stuck = stuck.filter((m) => isD11(hubCopies.get(m.id) ?? []));
        const d2Stuck = stuck.filter((m) => isD2(hubCopies.get(m.id) ?? []));
        if (d11Stuck.length + d2Stuck.length === stuck.length && sweeps < 3) {
          for (const [d, list] of [
            ['D2', d2Stuck],
            ['D11', d11Stuck],
          ] as const)
            if (list.length > 0)
              tally.defect(
                d,
                `at the end: ${list.length} task(s) stuck as ${d} leftovers, first ${list[0]!.id}`,
              );
          for (const m of stuck) seen.add(`${m.id} stuck at the end`);
          repaired += await repairD2(hub);
          sweeps++;
          lastProgress = Date.now();
          continue;
        } else
          tally.fail(
            `did not converge: ${what}; stuck: ${stuck
              .slice(0, 5)
              .map((m) => m.id)
              .join(', ')}`,
          );
        break;
      }
      await delay(250);
    }
    stopping = true;
    await Promise.all(actors);
    // One more sync after the last routing, so the far side has dropped what came home.
    const before = Date.now();
    await waitFor(
      'a sync pass after convergence',
      async () => {
        const st = JSON.parse(
          await readFile(join(hub, '.mailroom/sync/vps.json'), 'utf8').catch(() => '{}'),
        ) as {
          lastSyncAt?: string;
        };
        return st.lastSyncAt !== undefined && Date.parse(st.lastSyncAt) >= before + 1500;
      },
      30_000,
    ).catch((err: Error) => tally.fail(err.message));
    const stopped = await daemon.stop();
    tally.startFinalCheck();
    tally.check(
      stopped.code === 0,
      () =>
        `the daemon did not stop cleanly: ${JSON.stringify(stopped)}; it said: ${daemon.output().slice(-800)}`,
    );
    await check(tally, hub, far, model, seen, true);
  } finally {
    stopping = true;
    await daemon.kill().catch(() => {});
    await Promise.all(actors).catch(() => {});
    if (tally.failures === 0) await tmp.cleanup();
    else opts.log(`  S1: folders kept for inspection: ${tmp.dir}`);
  }
  const notes = [...model.values()].reduce((n, m) => n + m.notes.length, 0);
  tally.facts.push(
    `${opts.tasks} tasks, ${acknowledged} acknowledged changes (${notes} notes)`,
    `${killsMidSync} kills during a sync pass`,
    `${farAgentsOutlived} far agents outlived the kill`,
    `${healedSeen} interrupted moves seen`,
    `${repaired} stale copies (D2, D11) removed by hand`,
    `time: ${Object.entries(phase)
      .map(([k, v]) => `${k} ${(v / 1000).toFixed(0)}s`)
      .join(', ')}`,
    `refused/failed actor steps: ${[...opErrors].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
  );
  return tally.figure(Date.now() - started);
}

const parseCache = new Map<string, ReturnType<typeof parseTask>>();
/** parseTask, remembered by content (most files do not change between two checks). */
function parsed(c: Copy): ReturnType<typeof parseTask> {
  const key = `${c.id}:${sha256(c.bytes)}`;
  let r = parseCache.get(key);
  if (!r) {
    r = parseTask(c.bytes.toString('utf8'), c.id);
    parseCache.set(key, r);
  }
  return r;
}

/**
 * Defect D11's signature: a task home in dispatch's box and an older version of it (its history a
 * strict prefix of the home copy's) back in a far worker's inbox, pushed back by a pass whose listing
 * of the far side missed the task while it moved between two box folders there.
 */
function isD11(copies: readonly Copy[]): boolean {
  if (copies.length !== 2) return false;
  const home = copies.find((c) => c.agent === 'dispatch');
  const stale = copies.find((c) => (FAR_WORKERS as readonly string[]).includes(c.agent) && c.box === 'inbox');
  if (!home || !stale) return false;
  const [h, s] = [parsed(home), parsed(stale)];
  if (!h.ok || !s.ok) return false;
  const hh = h.value.task.history.map((e) => JSON.stringify(e));
  const sh = s.value.task.history.map((e) => JSON.stringify(e));
  return sh.length < hh.length && sh.every((e, i) => e === hh[i]);
}

/**
 * Removes the stale copy of every D2 duplicate (same bytes, home in dispatch, again in a far worker's
 * outbox) and every D11 resurrection (an older version back in a far worker's inbox), as `mailroom
 * doctor` tells a person to; the next sync pass removes the far copy.
 */
async function repairD2(hub: string): Promise<number> {
  let n = 0;
  for (const copies of byId(await taskFiles(hub)).values()) {
    if (!isD2(copies) && !isD11(copies)) continue;
    const stale = copies.find((c) => c.agent !== 'dispatch')!;
    await unlink(stale.path);
    n++;
  }
  return n;
}

/**
 * Defect D2's signature: a task home in dispatch's box and, as a second file with the same bytes, back
 * in a far worker's outbox (pulled again after a pass that died before saving its state).
 */
function isD2(copies: readonly Copy[]): boolean {
  if (copies.length !== 2) return false;
  const [a, b] = copies as [Copy, Copy];
  const home = [a, b].find((c) => c.agent === 'dispatch');
  const back = [a, b].find((c) => (FAR_WORKERS as readonly string[]).includes(c.agent) && c.box === 'outbox');
  return home !== undefined && back !== undefined && a.ino !== b.ino && a.bytes.equals(b.bytes);
}

/**
 * The promises, checked on both sides. Returns how many tasks had two links of one file (a move
 * interrupted by the kill, completed on the next pass) at the time of the check.
 */
async function check(
  tally: TallyT,
  hub: string,
  far: string,
  model: Map<string, Model>,
  seen: Set<string>,
  final: boolean,
): Promise<number> {
  // A move in flight (link, then unlink) shows one file twice for a moment, and a listing that reads
  // the destination folder before the move and the source folder after it sees it nowhere. The
  // daemon is running, so look again until the picture is clean or has held still (at most 5 s).
  const snapshot = async () => ({ hub: byId(await taskFiles(hub)), far: byId(await taskFiles(far)) });
  const anomalies = (s: Awaited<ReturnType<typeof snapshot>>) =>
    [...model.keys()].filter((id) => (s.hub.get(id)?.length ?? 0) !== 1 || (s.far.get(id)?.length ?? 0) > 1);
  let snap = await snapshot();
  let sameInode = 0;
  let previous = '';
  for (let i = 0; i < 40; i++) {
    const odd = anomalies(snap);
    if (odd.length === 0) break;
    if (i === 0)
      sameInode = odd.filter((id) => {
        const c = snap.hub.get(id) ?? [];
        return c.length > 1 && new Set(c.map((x) => x.ino)).size === 1;
      }).length;
    const picture = odd
      .map((id) => `${id}:${(snap.hub.get(id) ?? []).map((c) => `${c.rel}@${c.ino}`).join('+')}`)
      .join(' ');
    if (picture === previous && i >= 4) break; // held still for a while: judge it
    previous = picture;
    await delay(125);
    snap = await snapshot();
  }
  const hubCopies = snap.hub;
  const farCopies = snap.far;
  let lostTasks = 0;
  let lostEdits = 0;
  let broken = 0;
  const problems: string[] = [];
  const d2: string[] = [];
  const d11: string[] = [];
  const parse = (c: Copy) => {
    const r = parsed(c);
    if (!r.ok) {
      broken++;
      problems.push(`${c.rel} does not parse: ${r.problem.reason}`);
      return undefined;
    }
    return r.value.task;
  };
  for (const [, copies] of [...hubCopies, ...farCopies]) for (const c of copies) parse(c);
  for (const m of model.values()) {
    const h = hubCopies.get(m.id) ?? [];
    const f = farCopies.get(m.id) ?? [];
    if (h.length === 0) {
      lostTasks++;
      problems.push(`${m.id} is on the hub nowhere (far: ${f.map((c) => c.rel).join(', ') || 'nowhere'})`);
    } else if (h.length > 1) {
      const same = new Set(h.map((c) => c.ino)).size === 1 ? 'one file, several links' : 'different files';
      const msg = `${m.id} is in ${h.length} places on the hub (${same}): ${h.map((c) => c.rel).join(', ')}`;
      if (isD2(h)) d2.push(msg);
      else if (isD11(h)) d11.push(msg);
      else problems.push(msg);
    }
    if (f.length > 1) problems.push(`${m.id} is in ${f.length} places on the far side`);
    const tasks = [...h, ...f].map(parsed).flatMap((r) => (r.ok ? [r.value.task] : []));
    const notes = new Set(tasks.flatMap((t) => t.history.flatMap((e) => (e.note ? [e.note] : []))));
    for (const n of m.notes) {
      if (!notes.has(n)) {
        lostEdits++;
        problems.push(`${m.id}: acknowledged note "${n}" is in no copy`);
      }
    }
    const furthest = Math.max(-1, ...tasks.map((t) => RANK[t.state]));
    if (furthest < RANK[m.state]) {
      lostEdits++;
      problems.push(`${m.id}: acknowledged state ${m.state} is in no copy`);
    }
    if (final) {
      const home = h[0];
      if (h.length === 1 && home && home.agent !== 'dispatch')
        problems.push(`${m.id} did not come home: it is at ${home.rel}`);
      if (f.length > 0) {
        const msg = `${m.id} is still on the far side at ${f[0]!.rel}`;
        if (isD11(h)) d11.push(msg);
        else if (isD2(h)) d2.push(msg);
        else problems.push(msg);
      }
      const t = h.length === 1 ? parse(h[0]!) : undefined;
      if (t) {
        const hubNotes = new Set(t.history.flatMap((e) => (e.note ? [e.note] : [])));
        for (const n of m.notes)
          if (!hubNotes.has(n)) problems.push(`${m.id}: note "${n}" did not come home`);
      }
    }
  }
  // A problem that persists (a duplicate nobody resolves) is counted in the trial it appeared in.
  const fresh = problems.filter((p) => !seen.has(p));
  for (const p of fresh) seen.add(p);
  const freshD2 = d2.filter((p) => !seen.has(p));
  for (const p of freshD2) seen.add(p);
  const freshD11 = d11.filter((p) => !seen.has(p));
  for (const p of freshD11) seen.add(p);
  if (freshD11.length > 0)
    tally.defect('D11', `${freshD11.length} stale copies brought back, first: ${freshD11[0]}`);
  if (freshD2.length > 0)
    tally.defect('D2', `${freshD2.length} new duplicate(s) of routed tasks, first: ${freshD2[0]}`);
  if (fresh.length > 0) {
    const stuck = fresh.map((p) => /^(s1-\d+) is still on the far side/.exec(p)?.[1]).find(Boolean);
    tally.fail(
      `${final ? 'final state: ' : ''}${fresh.length} new problem(s), first: ${fresh.slice(0, 3).join(' | ')}` +
        (stuck ? `\n${await evidence(hub, far, stuck)}` : ''),
      lostTasks + lostEdits + broken,
    );
  }
  return sameInode;
}

/**
 * What the hub knows of task `id` when a check fails on it: its sync base record, the sent ledger's
 * entry, the far agent's scan record and the last events naming it (CI keeps no folders).
 */
async function evidence(hub: string, far: string, id: string): Promise<string> {
  const lines: string[] = [];
  const hubMr = await openMailroom(hub);
  const state = await loadSyncState(hubMr, 'vps').catch((err: Error) => err);
  lines.push(
    state instanceof Error
      ? `  sync state: ${state.message}`
      : `  base record: ${JSON.stringify(state.base?.tasks[id] ? { ...state.base.tasks[id], base: undefined } : null)}`,
  );
  const sent = await loadSent(hubMr, 'vps').catch(() => new Map());
  lines.push(`  sent ledger: ${JSON.stringify(sent.get(id) ?? null)}`);
  const scan = await readFile(join(far, '.mailroom/agent-state.json'), 'utf8').catch(() => '');
  const records = Object.entries(farCacheOf(scan)).filter(([k]) => k.includes(id));
  lines.push(`  far scan records: ${JSON.stringify(records)}`);
  const events = await readFile(join(hub, '.mailroom/events.jsonl'), 'utf8').catch(() => '');
  const named = events.split('\n').filter((l) => l.includes(id));
  lines.push(
    `  hub events naming it (${named.length}, last 12):`,
    ...named.slice(-12).map((l) => `    ${l}`),
  );
  return lines.join('\n');
}
