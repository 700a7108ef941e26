// The SFTP endpoint's atomic write, against a scripted session (pure: the order of requests is the
// point, and a real server answers too fast to show it): the writes, the fsync and the close of a
// small file go out together, one round trip instead of three, and nothing is renamed into place
// unless all three succeeded.

import { describe, expect, it } from 'vitest';
import { putIfHolds } from '../../src/endpoint/conditional.js';
import { sftpEndpoint } from '../../src/endpoint/sftp.js';
import { type RemoteHandle, SftpError, type SftpSession } from '../../src/ssh/sftp-session.js';

/** A session that logs each request as it is sent, and answers a write only when told to. */
function scripted(writeFails = false) {
  const log: string[] = [];
  const writes: (() => void)[] = [];
  const ok = async () => {};
  const session: SftpSession = {
    maxWriteBytes: 32 * 1024,
    lstat: async (path) => {
      log.push(`lstat ${path}`);
      if (path.endsWith('.md')) throw new SftpError('noSuchFile', 'lstat', path, 'no such file');
      return { kind: 'dir', size: 0, mtimeMs: 0 };
    },
    readdir: async () => [],
    readFileBounded: async () => ({ kind: 'file', size: 0 }),
    createExclusive: async (path) => {
      log.push(`create ${path.split('/').pop()?.startsWith('.') ? 'temp' : path}`);
      return { path } as RemoteHandle;
    },
    write: (_h, data, position) => {
      log.push(`write ${data.length}@${position}`);
      return new Promise<void>((resolve, reject) =>
        writes.push(() => {
          log.push('write answered');
          if (writeFails) reject(new SftpError('failure', 'write', 'temp', 'disk full'));
          else resolve();
        }),
      );
    },
    setHandleTimes: async (_h, ms) => void log.push(`mtime ${ms}`),
    fsync: async () => void log.push('fsync'),
    closeHandle: async () => void log.push('close'),
    posixRename: async (_from, to) => void log.push(`rename to ${to}`),
    unlink: async () => void log.push('unlink temp'),
    mkdir: async (path) => {
      log.push(`mkdir ${path}`);
      await new Promise((r) => setImmediate(r));
      log.push('mkdir answered');
    },
    rmdir: ok,
    setTimes: ok,
    end: () => {},
  };
  const answerWrites = () => {
    for (const w of writes.splice(0)) w();
  };
  return { session, log, answerWrites };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setImmediate(r));
  expect(check()).toBe(true);
};

describe('SFTP atomic write', () => {
  it('sends the writes, the fsync and the close of a small file together, then renames', async () => {
    const s = scripted();
    const ep = sftpEndpoint(s.session, { root: '/far', label: 'far' });
    const done = ep.writeFileAtomic('agents/a/inbox/t1.md', Buffer.alloc(40 * 1024, 'x'));
    await until(() => s.log.includes('close'));
    // Both chunks, the fsync and the close are out before the first write is answered.
    expect(s.log.filter((l) => !l.startsWith('lstat'))).toEqual([
      'create temp',
      'write 32768@0',
      'write 8192@32768',
      'fsync',
      'close',
    ]);
    s.answerWrites();
    await done;
    expect(s.log.at(-1)).toBe('rename to /far/agents/a/inbox/t1.md');
  });

  it('a settled mtime goes out with the writes, before the fsync and the close', async () => {
    const s = scripted();
    const ep = sftpEndpoint(s.session, { root: '/far', label: 'far' });
    const done = ep.writeFileAtomic('agents/a/inbox/t1.md', Buffer.from('task'), {
      mtimeMs: 1_700_000_000_999,
    });
    await until(() => s.log.includes('close'));
    expect(s.log.filter((l) => !l.startsWith('lstat'))).toEqual([
      'create temp',
      'write 4@0',
      'mtime 1700000000999',
      'fsync',
      'close',
    ]);
    s.answerWrites();
    await done;
    expect(s.log.at(-1)).toBe('rename to /far/agents/a/inbox/t1.md');
  });

  it("a lock's mkdir and the look at its mtime go out together: one round trip", async () => {
    const s = scripted();
    const ep = sftpEndpoint(s.session, { root: '/far', label: 'far' });
    const release = await ep.lock('agents/a/inbox/t1.md');
    const sent = s.log.indexOf('mkdir /far/agents/a/inbox/t1.md.lock');
    const looked = s.log.indexOf('lstat /far/agents/a/inbox/t1.md.lock');
    expect(sent).toBeGreaterThanOrEqual(0);
    expect(looked).toBeGreaterThan(sent);
    expect(looked).toBeLessThan(s.log.indexOf('mkdir answered'));
    await release();
  });

  it("a file's new bytes go out while its lock is taken; a put that finds the file changed renames nothing", async () => {
    const s = scripted();
    const ep = sftpEndpoint(s.session, { root: '/far', label: 'far' });
    // The file is not there (the scripted lstat of a .md says so), but the put expects a version:
    // changed during the sync, so skipped.
    const put = putIfHolds(ep, 'agents/a/inbox/t1.md', Buffer.from('task'), 'a'.repeat(64));
    await until(() => s.log.includes('close'));
    // The temp file is created and written before the lock's mkdir is answered.
    const answered = s.log.indexOf('mkdir answered');
    expect(answered === -1 || s.log.indexOf('create temp') < answered, s.log.join('\n')).toBe(true);
    s.answerWrites();
    expect(await put).toEqual({ skip: expect.stringMatching(/changed during the sync/) });
    expect(s.log.some((l) => l.startsWith('rename'))).toBe(false);
    expect(s.log).toContain('unlink temp');
  });

  it('a failed write renames nothing: the temp file is removed and the error said', async () => {
    const s = scripted(true);
    const ep = sftpEndpoint(s.session, { root: '/far', label: 'far' });
    const done = ep.writeFileAtomic('agents/a/inbox/t1.md', Buffer.from('task'));
    await until(() => s.log.includes('close'));
    s.answerWrites();
    await expect(done).rejects.toThrow(/disk full/);
    expect(s.log.some((l) => l.startsWith('rename'))).toBe(false);
    expect(s.log.at(-1)).toBe('unlink temp');
  });
});
