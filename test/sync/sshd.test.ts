// `mailroom sync` over a real OpenSSH sshd (private, loopback, throw-away keys): the two-root round
// trip of the sync issue, and the refusals that must hold before any file moves (each in the event
// log too: torture defect D8).

import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readEvents } from '../../torture/support.js';
import { BIN } from '../support/cli.js';
import { locations, startDaemon } from '../support/daemon.js';
import { pollUntil } from '../support/poll.js';
import { describeWithSshd } from '../support/sshd.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

describeWithSshd('mailroom sync over SSH', (sshd) => {
  let sides: TwoMachines;
  let hub: string;
  let far: string;
  let cli: TwoMachines['cli'];

  beforeAll(async () => {
    sides = await twoMachines({ sshd: sshd() });
    ({ hub, far, cli } = sides);
  });
  afterAll(async () => sides.cleanup());

  it('round trip: dispatch sends on the hub, the worker finishes on the far side, the result comes home', async () => {
    const id = (await cli(hub, ['send', 'research', 'Over SSH', '--as', 'dispatch'])).stdout.trim();
    const push = await cli(hub, ['sync']);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/vps: pushed [1-9]/);
    for (const args of [
      ['ack', id],
      ['start', id],
      ['done', id, '--result', 'Done over there.'],
    ]) {
      expect((await cli(far, args)).code).toBe(0);
    }
    const pull = await cli(hub, ['sync', 'vps', '--json']);
    expect(pull.code, pull.stderr).toBe(0);
    expect(JSON.parse(pull.stdout).hosts[0].pulled).toBeGreaterThanOrEqual(1);
    const daemon = await startDaemon(hub);
    try {
      await pollUntil(
        'routing on the hub',
        async () => (await locations(hub)).get(id)?.join() === 'dispatch/inbox',
        15_000,
      );
    } finally {
      await daemon.stop();
    }
    expect(await readFile(join(hub, `agents/dispatch/inbox/${id}.md`), 'utf8')).toMatch(
      /Done over there\.\n$/,
    );
    expect((await cli(hub, ['sync'])).code).toBe(0);
    expect((await locations(far)).get(id)).toBeUndefined();
  });

  it('--dry-run reports and changes nothing', async () => {
    const id = (await cli(hub, ['send', 'research', 'Dry'])).stdout.trim();
    const r = await cli(hub, ['sync', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/vps: would push 1/);
    expect((await locations(far)).get(id)).toBeUndefined();
    expect((await cli(hub, ['sync'])).code).toBe(0);
    expect((await locations(far)).get(id)).toEqual(['research/inbox']);
  });

  it('an unknown host key is refused with the line to add, and nothing moves', async () => {
    const empty = join(sides.dir, 'empty_known_hosts');
    await writeFile(empty, '');
    await sides.setHost({ known_hosts: empty });
    try {
      const id = (await cli(hub, ['send', 'research', 'Never leaves'])).stdout.trim();
      const r = await cli(hub, ['sync']);
      expect(r.code).not.toBe(0);
      expect(r.stderr, r.stderr).toMatch(
        /is not in .*known_hosts; refusing to connect to an unverified host/,
      );
      expect(r.stderr).toContain('ssh-keyscan');
      expect((await locations(far)).get(id)).toBeUndefined();
    } finally {
      await sides.setHost({});
    }
  });

  it('a changed host key is refused loudly', async () => {
    const wrong = join(sides.dir, 'wrong_known_hosts');
    // A valid ed25519 key that is not this server's.
    await mkdir(sides.dir, { recursive: true });
    await writeFile(
      wrong,
      `[127.0.0.1]:${sshd().port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`,
    );
    await sides.setHost({ known_hosts: wrong });
    try {
      const r = await cli(hub, ['sync']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/changed|does not match|MITM|man-in-the-middle/i);
    } finally {
      await sides.setHost({});
    }
  });

  describe('a refused host key on a fresh hub (nothing logged before)', () => {
    let fresh: TwoMachines;
    beforeEach(async () => {
      fresh = await twoMachines({ agents: ['r0'], bare: true, sshd: sshd() });
    });
    afterEach(async () => fresh.cleanup());

    // D8 (S6): a host key that is unknown, changed or revoked is refused (exit 3, a clear message, and
    // the host's last error in `mailroom status`), but nothing reaches the event log: syncHost logs
    // `sync.failed` only for failures after it connected, and the daemon only prints a line.
    it('D8: a refused host key is in the event log', async () => {
      const empty = join(fresh.dir, 'empty_known_hosts');
      await writeFile(empty, '');
      await fresh.setHost({ known_hosts: empty });
      await expect(fresh.sync()).rejects.toThrow(/known_hosts|ssh-keyscan/);
      const failed = (await readEvents(fresh.hub)).filter((e) => e.type === 'sync.failed');
      expect(failed).toHaveLength(1); // was: 0
      expect(failed[0]).toMatchObject({ host: 'vps' });
      expect(String(failed[0]!.reason)).toMatch(/known_hosts|ssh-keyscan/);
    });
  });

  it('the daemon pushes local changes, pulls far ones every interval, routes results home, reports the host', async () => {
    const configPath = join(hub, 'mailroom.yaml');
    const good = await readFile(configPath, 'utf8');
    await writeFile(configPath, good.replace('interval: 60s', 'interval: 1s'));
    const daemon = await startDaemon(hub);
    try {
      const id = (
        await cli(hub, ['send', 'research', 'Pushed by the daemon', '--as', 'dispatch'])
      ).stdout.trim();
      await pollUntil(
        'the push',
        async () => (await locations(far)).get(id)?.join() === 'research/inbox',
        15_000,
      );
      expect((await cli(far, ['done', id, '--result', 'via daemon'])).code).toBe(0);
      await pollUntil(
        'pull and routing',
        async () => (await locations(hub)).get(id)?.join() === 'dispatch/inbox',
        20_000,
      );
      await pollUntil('the far copy to go', async () => (await locations(far)).get(id) === undefined, 15_000);
      const s = JSON.parse((await cli(hub, ['status', '--json'])).stdout);
      expect(s.hosts[0]).toMatchObject({ name: 'vps', error: null });
      expect(s.hosts[0].lastSync).toMatch(/^\d{4}-/);
    } finally {
      await daemon.stop();
      await writeFile(configPath, good);
    }
  });

  it('with mailroom on the far side, its changes stream to the hub without waiting for the interval', async () => {
    const configPath = join(hub, 'mailroom.yaml');
    const good = await readFile(configPath, 'utf8');
    // interval stays 60s: only streaming can bring the far change over within the poll below.
    await writeFile(
      configPath,
      good.replace(/known_hosts: .*\n/, (m) => `${m}    mailroom: ${process.execPath} ${BIN}\n`),
    );
    const daemon = await startDaemon(hub);
    try {
      await pollUntil('the follower', () => daemon.output().includes('following vps'), 15_000);
      const id = (await cli(hub, ['send', 'research', 'Streamed back', '--as', 'dispatch'])).stdout.trim();
      await pollUntil(
        'the push',
        async () => (await locations(far)).get(id)?.join() === 'research/inbox',
        15_000,
      );
      expect((await cli(far, ['done', id, '--result', 'streamed'])).code).toBe(0);
      await pollUntil(
        'pull by stream, then routing',
        async () => (await locations(hub)).get(id)?.join() === 'dispatch/inbox',
        15_000,
      );
      // The far change came over by the fast path (only the changed task), not a full pass. (Its
      // event is logged after the state is saved, which may be after the routing seen above.)
      const fastPull = async () =>
        (await readFile(join(hub, '.mailroom/events.jsonl'), 'utf8'))
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { type: string; fast?: boolean; pulled?: number })
          .some((e) => e.type === 'sync.pass' && e.fast === true && (e.pulled ?? 0) >= 1);
      await pollUntil('a fast-path pull in the event log', fastPull, 10_000).catch(async (err) => {
        throw new Error(`${err}\n${daemon.output()}`);
      });
    } finally {
      await daemon.stop();
      await writeFile(configPath, good);
    }
  });

  it('without mailroom on the far side, the daemon says so and keeps pulling by interval', async () => {
    const configPath = join(hub, 'mailroom.yaml');
    const good = await readFile(configPath, 'utf8');
    await writeFile(
      configPath,
      good.replace(/known_hosts: .*\n/, (m) => `${m}    mailroom: /nonexistent/mailroom\n`),
    );
    const daemon = await startDaemon(hub);
    try {
      await pollUntil(
        'the fallback notice',
        () => daemon.output().includes('vps cannot stream its changes'),
        15_000,
      );
      expect(daemon.output()).toMatch(/pulling every 60s/);
    } finally {
      await daemon.stop();
      await writeFile(configPath, good);
    }
  });

  it('over SFTP the next pass reads no far file the last one wrote, and a same-size far edit right after is seen', async () => {
    const ids: string[] = [];
    for (const title of ['One', 'Two', 'Six'])
      ids.push((await cli(hub, ['send', 'research', title, '--as', 'dispatch'])).stdout.trim());
    const pushed = await sides.sync({ transport: 'sftp' });
    expect(pushed.transport?.kind).toBe('sftp');
    expect(pushed.pushed).toBeGreaterThanOrEqual(3);
    // The writes carry a settled mtime on the far clock (3 s before the pass's probe, whole seconds).
    const farFile = join(far, `agents/research/inbox/${ids[0]}.md`);
    const written = await stat(farFile);
    expect(written.mtimeMs % 1000).toBe(0);
    expect(written.mtimeMs).toBeLessThan(Date.now() - 2_000);
    const again = await sides.sync({ transport: 'sftp' });
    expect(again.reads.remote).toBe(0); // 3 (or more) when the writes' stamps were not recorded
    // An edit there of the same size, within the same second as anything: stamped "now", so seen.
    const text = await readFile(farFile, 'utf8');
    const edited = text.replace('One', 'Uno');
    expect(edited.length).toBe(text.length);
    await writeFile(farFile, edited);
    const pulled = await sides.sync({ transport: 'sftp' });
    expect(pulled.reads.remote).toBe(1);
    expect(pulled.pulled).toBe(1);
    expect(await readFile(join(hub, `agents/research/inbox/${ids[0]}.md`), 'utf8')).toBe(edited);
  });

  it('a host that cannot be reached exits 4 naming the host', async () => {
    const configPath = join(hub, 'mailroom.yaml');
    const good = await readFile(configPath, 'utf8');
    await writeFile(configPath, good.replace(`127.0.0.1:${sshd().port}`, '127.0.0.1:1'));
    try {
      const r = await cli(hub, ['sync']);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/vps/);
    } finally {
      await writeFile(configPath, good);
    }
  });
});
