// S3: 20 processes hammering one task while it is synced. 15 processes on the hub and 5 on the far
// host append progress notes through the real store code, and some of them rewrite the body the way
// a person would (a line inserted in the middle, under the task's lock). Meanwhile the task is synced:
//   - in "library" rounds, the torture process runs sync passes back to back against a plain far
//     folder (the same syncHost the daemon calls);
//   - in "daemon" rounds (when a test sshd is available), the real `mailroom daemon` syncs it over
//     SSH, pushing on change and following the far side with `mailroom watch`.
// When the workers are done, sync runs until both sides hold the same bytes. Promise: 0 lost updates.
// Every note and every rewrite a worker was told had been written is in the final file (on both
// sides), each note exactly once, the file parses. Also measured: how many sync passes completed
// while the workers were writing (a daemon that never syncs during a burst delays everything).

import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { localEndpoint } from '../../src/endpoint/local.js';
import { openMailroom } from '../../src/mailroom.js';
import { syncHost } from '../../src/sync/pass.js';
import { parseTask } from '../../src/task/parse.js';
import type { Sshd } from '../../test/support/sshd-core.js';
import type { Rng } from '../rng.js';
import {
  BIN,
  DaemonProc,
  type DefectId,
  type Figure,
  makeRoot,
  readEvents,
  Tally,
  taskText,
  tempDir,
  WORKERS_DIR,
  waitFor,
} from '../support.js';

export interface S3Options {
  rng: Rng;
  /** Rounds; with an sshd, every second round runs the real daemon over SSH. */
  trials: number;
  /** 'daemon': every round with the real daemon (needs sshd); default: alternate. */
  mode?: 'alternate' | 'daemon';
  sshd?: Sshd;
  processes?: number;
  farProcesses?: number;
  steps?: number;
  log: (line: string) => void;
  verbose?: boolean;
  tolerate?: ReadonlySet<DefectId>;
}

const ID = 's3-hammered';

export async function runS3(opts: S3Options): Promise<Figure> {
  const started = Date.now();
  const tally = new Tally('S3', 'hammer-one-task', opts.log, opts.tolerate);
  const total = opts.processes ?? 20;
  const farProcs = opts.farProcesses ?? 5;
  const steps = opts.steps ?? 8;
  let notesTotal = 0;
  let rewritesTotal = 0;
  const syncsDuring: string[] = [];
  for (let round = 0; round < opts.trials; round++) {
    tally.startTrial();
    const mode = opts.sshd && (opts.mode === 'daemon' || round % 2 === 1) ? 'daemon' : 'library';
    const tmp = await tempDir('s3');
    let keep = false;
    let daemon: DaemonProc | undefined;
    try {
      const hub = join(tmp.dir, 'hub');
      const far = join(tmp.dir, 'far');
      const s = opts.sshd;
      const hosts =
        mode === 'daemon' && s
          ? `hosts:\n  vps:\n    ssh: ${s.user}@127.0.0.1:${s.port}\n    root: ${far}\n    identity: ${s.clientKeyPath}\n    known_hosts: ${s.knownHostsPath}\n    mailroom: ${process.execPath} ${BIN}\nsync:\n  interval: 2s\n`
          : `hosts:\n  vps: { ssh: deploy@203.0.113.7, root: ${far} }\n`;
      await makeRoot(hub, `agents:\n  dispatch: {}\n  human: {}\n  research: { host: vps }\n${hosts}`, [
        'dispatch',
        'human',
        'research',
      ]);
      await makeRoot(far, 'agents:\n  human: {}\n  research: {}\n', ['research']);
      const now = new Date().toISOString().slice(0, 19);
      await writeFile(
        join(hub, 'agents/research/inbox', `${ID}.md`),
        taskText(
          {
            id: ID,
            from: 'dispatch',
            to: 'research',
            state: 'running',
            history: [
              { state: 'queued', at: `${now}Z`, by: 'dispatch' },
              { state: 'running', at: `${now}Z`, by: 'research' },
            ],
          },
          'The request.\n\nA paragraph a person may rewrite.\n\nAnother paragraph.\n',
        ),
      );
      const hubMr = await openMailroom(hub);
      const libSync = () => syncHost(hubMr, 'vps', { remote: localEndpoint(far) });
      await libSync();

      // The sync that runs while the workers write.
      let writing = true;
      let passesDuring = 0;
      let syncErrors = 0;
      const windowStart = Date.now();
      let loop: Promise<void> = Promise.resolve();
      if (mode === 'library') {
        loop = (async () => {
          while (writing) {
            try {
              await libSync();
              passesDuring++;
            } catch {
              syncErrors++;
            }
          }
        })();
      } else {
        daemon = await DaemonProc.start(hub, ['--rescan', '1s'], { SSH_AUTH_SOCK: '' });
      }
      // How stale the far copy gets while the hub copy keeps changing (the daemon promises to push
      // local changes within about a second).
      let maxLagMs = 0;
      const lagWatch =
        mode === 'daemon'
          ? (async () => {
              const hubFile = join(hub, 'agents/research/inbox', `${ID}.md`);
              const farFile = join(far, 'agents/research/inbox', `${ID}.md`);
              let lastFar = '';
              let farSince = Date.now();
              let pendingSince: number | undefined;
              while (writing) {
                const [h, f] = await Promise.all([
                  readFile(hubFile, 'utf8').catch(() => ''),
                  readFile(farFile, 'utf8').catch(() => ''),
                ]);
                if (f !== lastFar) {
                  lastFar = f;
                  farSince = Date.now();
                }
                // The hub holds notes the far copy does not have yet: the far copy is behind.
                const behind =
                  h !== f && [...h.matchAll(/note: (hub\d+ note \d+)/g)].some((m) => !f.includes(m[1]!));
                if (behind) pendingSince ??= farSince;
                else pendingSince = undefined;
                if (pendingSince !== undefined) maxLagMs = Math.max(maxLagMs, Date.now() - pendingSince);
                await delay(100);
              }
            })()
          : Promise.resolve();

      // The workers: all released at once.
      const r = opts.rng.fork(`round ${round}`);
      const children: { child: ChildProcess; out: string; name: string }[] = [];
      for (let i = 0; i < total; i++) {
        const onFar = i >= total - farProcs;
        const name = `${onFar ? 'far' : 'hub'}${i}`;
        const rewriteEvery = i % 2 === 0 ? r.range(3, 5) : 0;
        const child = spawn(
          process.execPath,
          [
            join(WORKERS_DIR, 'hammer.js'),
            onFar ? far : hub,
            ID,
            String(steps),
            String(rewriteEvery),
            name,
            String(r.int(1e9)),
          ],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        );
        const entry = { child, out: '', name };
        child.stdout!.on('data', (d: Buffer) => (entry.out += d.toString()));
        child.stderr!.on('data', (d: Buffer) => (entry.out += `stderr: ${d.toString()}`));
        children.push(entry);
      }
      await waitFor(
        'the workers to be ready',
        () => children.every((c) => c.out.includes('ready\n')),
        120_000, // 20 node processes starting: seconds alone, a minute or more on a busy machine
      );
      const exits = children.map((c) => new Promise<number | null>((res) => c.child.on('exit', res)));
      for (const c of children) c.child.stdin!.write('go\n');
      const codes = await Promise.all(exits);
      writing = false;
      await loop;
      await lagWatch;
      const windowEnd = Date.now();
      codes.forEach((code, i) => {
        if (code !== 0)
          tally.fail(`worker ${children[i]!.name} exited with ${code}: ${children[i]!.out.slice(-400)}`);
      });
      const acked = children.flatMap((c) => c.out.split('\n'));
      const notes = acked.filter((l) => l.startsWith('note ')).map((l) => l.slice(5));
      const rewrites = acked.filter((l) => l.startsWith('rewrite '));
      notesTotal += notes.length;
      rewritesTotal += rewrites.length;

      // Converge: sync until both sides hold the same bytes.
      const hubPath = join(hub, 'agents/research/inbox', `${ID}.md`);
      const farPath = join(far, 'agents/research/inbox', `${ID}.md`);
      if (mode === 'daemon' && daemon) {
        const ev = (await readEvents(hub)).filter(
          (e) =>
            e.type === 'sync.pass' && Date.parse(e.at) >= windowStart - 1000 && Date.parse(e.at) <= windowEnd,
        );
        passesDuring = ev.length;
        await waitFor(
          'both sides equal',
          async () => {
            const [a, b] = await Promise.all([
              readFile(hubPath).catch(() => undefined),
              readFile(farPath).catch(() => undefined),
            ]);
            return a !== undefined && b !== undefined && a.equals(b);
          },
          60_000,
          200,
        ).catch((err: Error) => tally.fail(`daemon round: ${err.message}`));
        const stopped = await daemon.stop();
        if (stopped.code !== 0) tally.fail(`the daemon did not stop cleanly: ${daemon.output().slice(-500)}`);
        daemon = undefined;
      }
      for (let i = 0; i < 5; i++) {
        const rep = await libSync();
        if (rep.pushed + rep.pulled + rep.merged + rep.deleted === 0) break;
      }
      syncsDuring.push(
        `${mode} ${passesDuring} in ${((windowEnd - windowStart) / 1000).toFixed(1)}s${syncErrors ? ` (${syncErrors} failed)` : ''}${mode === 'daemon' ? `, far copy up to ${(maxLagMs / 1000).toFixed(1)}s behind` : ''}`,
      );

      // D9's signature: no sync at all while the workers write. How far behind the far copy got is a
      // figure, not a pass/fail bound: it depends on the machine's load and on how long the sync
      // waits for the task's lock, which twenty writers hold most of the time.
      if (mode === 'daemon' && passesDuring === 0)
        tally.defect(
          'D9',
          `while the workers wrote, the far copy was up to ${(maxLagMs / 1000).toFixed(1)}s behind the hub (${passesDuring} sync passes in ${((windowEnd - windowStart) / 1000).toFixed(1)}s)`,
        );
      const [a, b] = await Promise.all([readFile(hubPath, 'utf8'), readFile(farPath, 'utf8')]);
      tally.check(a === b, () => `${mode} round: the two sides differ after converging`);
      const parsed = parseTask(a, ID);
      if (!parsed.ok) {
        tally.fail(`${mode} round: the task does not parse: ${parsed.problem.reason}`, 1);
        keep = true;
        continue;
      }
      const inFile = parsed.value.task.history.flatMap((h) => (h.note ? [h.note] : []));
      let lost = 0;
      for (const n of notes) {
        const times = inFile.filter((x) => x === n).length;
        if (times === 0) lost++;
        if (times !== 1)
          tally.fail(`${mode} round: note "${n}" is in the file ${times} times`, times === 0 ? 1 : 0);
      }
      for (const rw of rewrites) {
        if (!parsed.value.file.body.includes(`- ${rw}`)) {
          lost++;
          tally.fail(`${mode} round: the body rewrite "${rw}" was lost`, 1);
        }
      }
      if (lost > 0) keep = true;
      if (opts.verbose)
        opts.log(
          `  S3 round ${round + 1} (${mode}): ${notes.length} notes, ${rewrites.length} rewrites acknowledged, ${lost} lost; ${passesDuring} sync passes while writing (${((windowEnd - windowStart) / 1000).toFixed(1)}s)`,
        );
    } catch (err) {
      keep = true;
      tally.fail(`${mode} round: ${(err as Error).stack ?? String(err)}`);
    } finally {
      await daemon?.kill().catch(() => {});
      if (keep) opts.log(`  S3: folders kept for inspection: ${tmp.dir}`);
      else await tmp.cleanup();
    }
    await delay(0);
  }
  tally.facts.push(
    `${total} processes (${farProcs} on the far side) x ${steps} changes per round`,
    `${notesTotal} notes and ${rewritesTotal} body rewrites acknowledged`,
    `sync passes while writing: ${syncsDuring.join(', ')}`,
  );
  return tally.figure(Date.now() - started);
}
