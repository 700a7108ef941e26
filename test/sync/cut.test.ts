// The connection is cut at many byte offsets while 2,000 task files sync over a real sshd (through a
// TCP proxy that drops the connection after N bytes): never a partial file on either side, the next
// pass completes, nothing is lost.

import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MailroomError } from '../../src/errors.js';
import { parseTask } from '../../src/task/parse.js';
import { renderTask } from '../../src/task/render.js';
import { type CutProxy, startCutProxy } from '../support/cut-proxy.js';
import { describeWithSshd } from '../support/sshd.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

const FILES = 2000;
const CHANGED_PER_TRIAL = 300;

const text = (id: string, version: number) =>
  renderTask(
    {
      id,
      title: `task ${id}`,
      from: 'dispatch',
      to: 'research',
      state: 'queued',
      priority: 'normal',
      created: '2026-11-22T10:15:00Z',
      attempt: 1,
      max_attempts: 3,
      ack_timeout: '5m',
      run_timeout: '30m',
      history: [{ state: 'queued', at: '2026-11-22T10:15:00Z', by: 'dispatch' }],
    },
    `version ${version}\n${'x'.repeat(1500)}\n`,
  );

describeWithSshd('sync with the connection cut mid-transfer', (sshd) => {
  let sides: TwoMachines;
  let proxy: CutProxy;
  let hub: string;
  let far: string;
  const ids = Array.from({ length: FILES }, (_, i) => `t${String(i).padStart(5, '0')}`);
  const version = new Map(ids.map((id) => [id, 0]));

  beforeAll(async () => {
    const s = sshd();
    sides = await twoMachines({ bare: true, sshd: s });
    ({ hub, far } = sides);
    proxy = await startCutProxy(s.port);
    // The proxy is a different port, so known_hosts needs the host key under that name too.
    const knownHosts = join(sides.dir, 'known_hosts');
    await writeFile(knownHosts, `[127.0.0.1]:${proxy.port} ${s.hostPublicKey}\n`);
    await sides.setHost({ ssh: `${s.user}@127.0.0.1:${proxy.port}`, known_hosts: knownHosts });
    await mkdir(join(hub, 'agents/research/inbox'), { recursive: true });
    for (const id of ids) await writeFile(join(hub, `agents/research/inbox/${id}.md`), text(id, 0));
    process.env.SSH_AUTH_SOCK = '';
  });
  afterAll(async () => {
    await proxy.close();
    await sides.cleanup();
  });

  const pass = () => sides.sync();

  /** Every task file on the far side is whole: it parses and equals one version the hub ever had. */
  const checkFarWhole = async () => {
    const dir = join(far, 'agents/research/inbox');
    for (const name of await readdir(dir)) {
      if (!name.endsWith('.md') || name.startsWith('.')) continue;
      const id = name.slice(0, -3);
      const body = await readFile(join(dir, name), 'utf8');
      expect(parseTask(body, id).ok, `${name} is not a whole task`).toBe(true);
      const v = Number(/version (\d+)/.exec(body)?.[1]);
      expect(body, `${name} is not a version the hub wrote`).toBe(text(id, v));
    }
  };

  /** The previous connection is gone, so the locks it held there are dead: clear them instead of
   * waiting out the 10 s stale period (stale takeover itself is tested in test/ssh). */
  const clearDeadLocks = async () => {
    const dir = join(far, 'agents/research/inbox');
    for (const name of await readdir(dir))
      if (name.endsWith('.lock')) await rm(join(dir, name), { recursive: true, force: true });
  };

  const checkComplete = async () => {
    for (const id of ids) {
      expect(await readFile(join(far, `agents/research/inbox/${id}.md`), 'utf8')).toBe(
        text(id, version.get(id)!),
      );
      expect(await readFile(join(hub, `agents/research/inbox/${id}.md`), 'utf8')).toBe(
        text(id, version.get(id)!),
      );
    }
  };

  it(`never leaves a partial file, and the next pass completes (${FILES} files)`, async () => {
    // Calibrate: how many bytes go up for a full first push.
    const before = proxy.bytes();
    const started = Date.now();
    const first = await pass();
    console.log(`first push: ${FILES} files, ${fullUpLabel()} in ${Date.now() - started} ms`);
    expect(first.pushed).toBe(FILES);
    const fullUp = proxy.bytes().up - before.up;
    function fullUpLabel() {
      return `${Math.round((proxy.bytes().up - before.up) / 1024)} KiB up`;
    }
    await checkComplete();

    const cuts: ['up' | 'down', number][] = [
      ['up', 200], // during the handshake
      ['up', 5_000],
      ['down', 3_000],
      ['up', Math.floor(fullUp * 0.03)],
      ['up', Math.floor(fullUp * 0.08)],
      ['down', 60_000],
      ['up', Math.floor(fullUp * 0.12)],
      ['down', 150_000],
    ];
    let failedPasses = 0;
    for (const [trial, [direction, at]] of cuts.entries()) {
      // Change a slice of the tasks on the hub, then push them through a connection cut at `at`.
      for (let i = 0; i < CHANGED_PER_TRIAL; i++) {
        const id = ids[(trial * CHANGED_PER_TRIAL + i) % FILES]!;
        version.set(id, version.get(id)! + 1);
        await writeFile(join(hub, `agents/research/inbox/${id}.md`), text(id, version.get(id)!));
      }
      proxy.armCut(direction, at);
      try {
        await pass();
      } catch (err) {
        expect(err, String(err)).toBeInstanceOf(MailroomError);
        expect((err as MailroomError).exitCode).toBe(4);
        failedPasses++;
      }
      await checkFarWhole();
      await clearDeadLocks();
      const next = await pass();
      console.log(`cut ${direction} at ${at} bytes: far side whole; next pass pushed ${next.pushed}`);
      expect(next.problems).toEqual([]);
      await checkComplete();
    }
    expect(failedPasses).toBeGreaterThanOrEqual(cuts.length - 1);
  }, 600_000); // a hang guard: about a minute alone, several times that on a loaded machine
});
