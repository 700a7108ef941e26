// The SFTP channel pool (src/ssh/sftp-pool.ts), pure: requests on one path always reach the same
// channel (their order is kept there), a handle's requests reach the channel that opened it, and
// paths spread over the channels.

import { describe, expect, it } from 'vitest';
import { BUSY_REQUESTS, pooledSession } from '../../src/ssh/sftp-pool.js';
import type { RemoteHandle, SftpSession } from '../../src/ssh/sftp-session.js';

function recording(n: number) {
  const calls: string[] = [];
  const session = (i: number): SftpSession => {
    const log = (what: string) => async () => void calls.push(`${i} ${what}`);
    return {
      maxWriteBytes: 1000 + i,
      lstat: async (path) => {
        calls.push(`${i} lstat ${path}`);
        return { kind: 'dir', size: 0, mtimeMs: 0 };
      },
      readdir: async () => [],
      readFileBounded: async () => ({ kind: 'file', size: 0 }),
      createExclusive: async (path) => {
        calls.push(`${i} create ${path}`);
        return { path, mine: i } as RemoteHandle;
      },
      setHandleTimes: async (h) => void calls.push(`${i} mtime ${(h as { mine?: number }).mine}`),
      write: async (h) => void calls.push(`${i} write ${(h as { mine?: number }).mine}`),
      fsync: async (h) => void calls.push(`${i} fsync ${(h as { mine?: number }).mine}`),
      closeHandle: async (h) => void calls.push(`${i} close ${(h as { mine?: number }).mine}`),
      posixRename: log('rename'),
      unlink: log('unlink'),
      mkdir: async (path) => void calls.push(`${i} mkdir ${path}`),
      rmdir: log('rmdir'),
      setTimes: log('setTimes'),
      end: () => void calls.push(`${i} end`),
    };
  };
  return { sessions: Array.from({ length: n }, (_, i) => session(i)), calls };
}

/** A pool of all of `sessions`, the others opened (their promise settled). */
async function poolOf({ sessions, calls }: ReturnType<typeof recording>): Promise<SftpSession> {
  const pool = pooledSession(sessions[0]!, async () => sessions.slice(1));
  // Busy enough to open the others.
  await Promise.all(Array.from({ length: BUSY_REQUESTS + 1 }, () => pool.lstat('/far')));
  await new Promise((r) => setImmediate(r));
  calls.splice(0);
  return pool;
}

describe('SFTP channel pool', () => {
  it('one path, one channel: a lock folder made and looked at go the same way', async () => {
    const rec = recording(4);
    const { calls } = rec;
    const pool = await poolOf(rec);
    for (let i = 0; i < 50; i++) {
      const lock = `/far/agents/a/inbox/t${i}.md.lock`;
      await Promise.all([pool.mkdir(lock), pool.lstat(lock)]);
      const [made, looked] = calls.splice(0);
      expect(made?.split(' ')[0]).toBe(looked?.split(' ')[0]);
    }
  });

  it("a handle's writes, mtime, fsync and close reach the channel that opened it", async () => {
    const rec = recording(4);
    const { calls } = rec;
    const pool = await poolOf(rec);
    for (let i = 0; i < 20; i++) {
      const h = await pool.createExclusive(`/far/.t${i}.md.tmp-0123456789ab`);
      await pool.write(h, Buffer.from('x'), 0);
      await pool.setHandleTimes(h, 0);
      await pool.fsync(h);
      await pool.closeHandle(h);
      const channels = new Set(calls.splice(0).map((c) => c.split(' ')[0]));
      expect(channels.size).toBe(1);
    }
  });

  it('the first channel alone until the others are open, then all of them; one opening after end() is ended', async () => {
    const { sessions, calls } = recording(4);
    let open: (s: SftpSession[]) => void = () => {};
    let asked = 0;
    const opening = new Promise<SftpSession[]>((r) => (open = r));
    const pool = pooledSession(sessions[0]!, () => {
      asked++;
      return opening;
    });
    await Promise.all(Array.from({ length: 50 }, (_, i) => pool.lstat(`/far/t${i}.md`)));
    expect(asked).toBe(0); // not busy: no other channel asked for
    await Promise.all(Array.from({ length: BUSY_REQUESTS + 1 }, (_, i) => pool.lstat(`/far/t${i}.md`)));
    expect(asked).toBe(1);
    expect(new Set(calls.splice(0).map((c) => c.split(' ')[0]))).toEqual(new Set(['0']));
    open(sessions.slice(1));
    await new Promise((r) => setImmediate(r));
    await Promise.all(Array.from({ length: 50 }, (_, i) => pool.lstat(`/far/t${i}.md`)));
    expect(new Set(calls.splice(0).map((c) => c.split(' ')[0])).size).toBe(4);

    const late = recording(2);
    let openLate: (s: SftpSession[]) => void = () => {};
    const ended = pooledSession(late.sessions[0]!, () => new Promise((r) => (openLate = r)));
    await Promise.all(Array.from({ length: BUSY_REQUESTS + 1 }, () => ended.lstat('/far')));
    late.calls.splice(0);
    ended.end();
    openLate(late.sessions.slice(1));
    await new Promise((r) => setImmediate(r));
    expect(late.calls.sort()).toEqual(['0 end', '1 end']);
  });

  it('paths spread over every channel; end ends them all', async () => {
    const rec = recording(4);
    const { calls } = rec;
    const pool = await poolOf(rec);
    await Promise.all(Array.from({ length: 200 }, (_, i) => pool.lstat(`/far/agents/a/inbox/t${i}.md`)));
    expect(new Set(calls.splice(0).map((c) => c.split(' ')[0]))).toEqual(new Set(['0', '1', '2', '3']));
    pool.end();
    expect(calls.sort()).toEqual(['0 end', '1 end', '2 end', '3 end']);
  });
});
