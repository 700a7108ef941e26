// A far agent that stays (docs/sync.md, "A far agent that stays"), end to end over a real sshd: a
// one-shot `mailroom sync` leaves one far agent behind (detached, on a Unix socket), the next pass
// reaches it with OpenSSH's direct-streamlocal and both sides still sync; it ends after keep_agent
// without a connection; one killed with -9, busy with another connection, or from an installation
// since replaced is passed over for an agent started over exec, and the pass completes; keep_agent: 0s
// leaves none.

import { execFileSync } from 'node:child_process';
import { cp, readFile, utimes } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { answering } from '../../src/remote/resident.js';
import { BIN, tempDir } from '../support/cli.js';
import { pollUntil } from '../support/poll.js';
import { describeWithSshd } from '../support/sshd.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

const FAR_MAILROOM = `${process.execPath} ${BIN}`;

/** The pids of far agents that stayed for `root` (found by their command line). */
function residentsOf(root: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(`serve --root ${root} --stay `))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

/** Any far agent for `root`, started over exec or staying. */
const agentsOf = (root: string): number[] =>
  execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(`serve --root ${root}`))
    .map((line) => Number(line.trim().split(/\s+/)[0]));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describeWithSshd('a far agent that stays', (sshd) => {
  let sides: TwoMachines;
  let hub: string;
  let far: string;
  let cli: TwoMachines['cli'];
  const note = () => join(hub, '.mailroom/sync/vps.far-agent.json');
  const noted = async (): Promise<string> => JSON.parse(await readFile(note(), 'utf8')).socket;
  const syncJson = async () => {
    const r = await cli(hub, ['sync', 'vps', '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout).hosts[0] as { transport: { kind: string; stayed?: boolean } };
  };
  /** The one agent that stays for the far root, once it answers on its socket. */
  const oneResident = async (): Promise<number> => {
    const socket = await pollUntil('the note of the agent that stays', () => noted().catch(() => undefined));
    await pollUntil('the agent that stays answering', () => answering(socket), 15_000);
    const pids = residentsOf(far);
    expect(pids).toHaveLength(1);
    return pids[0]!;
  };

  beforeAll(async () => {
    sides = await twoMachines({ sshd: sshd() });
    ({ hub, far, cli } = sides);
    await sides.setHost({ mailroom: FAR_MAILROOM, keep_agent: '2m' });
  });
  afterEach(async () => {
    // Asked to end (SIGTERM), as a person would: it removes its socket.
    for (const pid of residentsOf(far)) process.kill(pid, 'SIGTERM');
    await pollUntil('the agents that stayed to end', () => residentsOf(far).length === 0, 10_000);
    await sides.setHost({ mailroom: FAR_MAILROOM, keep_agent: '2m' });
  });
  afterAll(async () => sides.cleanup());

  it('a one-shot sync leaves one far agent; the next pass reaches it on its socket, and both sides sync', async () => {
    const first = (await cli(hub, ['send', 'research', 'First', '--as', 'dispatch'])).stdout.trim();
    const pushed = await syncJson();
    expect(pushed.transport).toEqual({ kind: 'agent' });
    const pid = await oneResident();

    // Work on both sides between the passes: the far agent acks (by hand, with the far CLI), the
    // hub sends another task.
    expect((await cli(far, ['ack', first, '--as', 'research'])).code).toBe(0);
    const second = (await cli(hub, ['send', 'research', 'Second', '--as', 'dispatch'])).stdout.trim();
    const again = await syncJson();
    expect(again.transport).toEqual({ kind: 'agent', stayed: true });
    expect(await readFile(join(hub, `agents/research/inbox/${first}.md`), 'utf8')).toMatch(/^state: acked$/m);
    expect(await readFile(join(far, `agents/research/inbox/${second}.md`), 'utf8')).toMatch(
      /^state: queued$/m,
    );
    // Still the same one agent: nothing new was started.
    expect(residentsOf(far)).toEqual([pid]);
  });

  it('ends after keep_agent without a connection, and takes its socket with it', async () => {
    await sides.setHost({ mailroom: FAR_MAILROOM, keep_agent: '1s' });
    await syncJson();
    const pid = await oneResident();
    const socket = await noted();
    await pollUntil('the agent that stayed to end', () => !alive(pid), 20_000);
    expect(await answering(socket)).toBe(false);
    await expect(readFile(socket)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('one killed with -9 leaves its socket: the next pass starts an agent over exec, and a new one stays', async () => {
    await syncJson();
    const pid = await oneResident();
    process.kill(pid, 'SIGKILL');
    await pollUntil('the killed agent gone', () => !alive(pid));
    const after = await syncJson();
    expect(after.transport).toEqual({ kind: 'agent' }); // started, not stayed
    const next = await oneResident();
    expect(next).not.toBe(pid);
  });

  it('one busy with another connection is passed over: the pass starts its own agent over exec', async () => {
    await syncJson();
    await oneResident();
    const socket = await noted();
    // Another client holds the agent (it sends its first byte, so it is not closed as silent).
    const holder: Socket = createConnection(socket);
    await new Promise<void>((r) => holder.once('connect', () => r()));
    holder.write(Buffer.from([0, 0, 0]));
    try {
      const busy = await syncJson();
      expect(busy.transport).toEqual({ kind: 'agent' });
    } finally {
      holder.destroy();
    }
  });

  it('one from an installation since replaced ends instead of answering; the pass starts the new one', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      // The far mailroom as an installed copy of the bundles, so it can be "upgraded" alone.
      await cp(join(BIN, '..'), join(dir, 'bin'), { recursive: true });
      await sides.setHost({
        mailroom: `${process.execPath} ${join(dir, 'bin/mailroom.js')}`,
        keep_agent: '2m',
      });
      await syncJson();
      const old = await oneResident();
      const later = new Date(Date.now() + 5_000);
      await utimes(join(dir, 'bin/mailroom.cjs'), later, later); // what an upgrade does to it
      const after = await syncJson();
      expect(after.transport).toEqual({ kind: 'agent' });
      await pollUntil('the outdated agent to end', () => !alive(old), 10_000);
      const next = await oneResident();
      expect(next).not.toBe(old);
    } finally {
      for (const pid of residentsOf(far)) process.kill(pid, 'SIGTERM');
      await pollUntil('the agents that stayed to end', () => residentsOf(far).length === 0, 10_000);
      await cleanup();
    }
  });

  it('keep_agent: 0s leaves no far agent behind', async () => {
    await sides.setHost({ mailroom: FAR_MAILROOM, keep_agent: '0s' });
    const r = await syncJson();
    expect(r.transport).toEqual({ kind: 'agent' });
    // The agent started over exec ends as the hub hangs up; one that stays would be started first.
    await pollUntil('the far agent to end', () => agentsOf(far).length === 0, 15_000);
    expect(residentsOf(far)).toEqual([]);
  });
});
