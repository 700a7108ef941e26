// Several SFTP channels of one SSH connection as one SftpSession. Each channel is its own
// sftp-server process on the far side, which carries out its requests one at a time: a first copy's
// thousands of fsyncs waited for the disk one after another in one process (docs/performance.md).
// A request goes to the channel its path picks, and a request on a handle to the channel that
// opened it, so the requests on one path keep the order they were sent in (a lock's mkdir and the
// look at its mtime, sent together by lock-dir.ts; a file's writes, fsync and close).

import type { RemoteHandle, SftpSession } from './sftp-session.js';

class PooledHandle implements RemoteHandle {
  constructor(
    readonly path: string,
    readonly session: SftpSession,
    readonly inner: RemoteHandle,
  ) {}
}

/** FNV-1a of the path: the same path always picks the same channel. */
function pick(sessions: readonly SftpSession[], path: string): SftpSession {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193);
  return sessions[(h >>> 0) % sessions.length]!;
}

/** Requests in flight at once past which the other channels are opened (a first copy, not a scan). */
export const BUSY_REQUESTS = 256;

/**
 * `first` at once; the channels `more` opens are asked for once the pool has more than
 * BUSY_REQUESTS requests in flight (a pass with a few changes never pays for them), and used once
 * all are open (switched between two requests: a burst of requests sent together always goes to one
 * pool). A channel that opens after end() is ended.
 */
export function pooledSession(
  first: SftpSession,
  more: () => Promise<readonly SftpSession[]> = async () => [],
): SftpSession {
  let sessions: readonly SftpSession[] = [first];
  let ended = false;
  let asked = false;
  let inFlight = 0;
  const grow = () => {
    asked = true;
    more().then(
      (extra) => {
        if (ended) for (const s of extra) s.end();
        else if (extra.length > 0) sessions = [first, ...extra];
      },
      () => {},
    );
  };
  const counted = <T>(p: Promise<T>): Promise<T> => {
    if (++inFlight > BUSY_REQUESTS && !asked) grow();
    return p.finally(() => inFlight--);
  };
  const on = (path: string) => pick(sessions, path);
  const owner = (handle: RemoteHandle) => handle as PooledHandle;
  return {
    // Writes are cut to the first channel's size: the others are the same server's.
    maxWriteBytes: first.maxWriteBytes,
    lstat: (path) => counted(on(path).lstat(path)),
    readdir: (path) => counted(on(path).readdir(path)),
    readFileBounded: (path, maxBytes) => counted(on(path).readFileBounded(path, maxBytes)),
    createExclusive: (path) => {
      const session = on(path);
      return counted(session.createExclusive(path)).then((h) => new PooledHandle(path, session, h));
    },
    setHandleTimes: (h, mtimeMs) => counted(owner(h).session.setHandleTimes(owner(h).inner, mtimeMs)),
    write: (h, data, position) => counted(owner(h).session.write(owner(h).inner, data, position)),
    fsync: (h) => counted(owner(h).session.fsync(owner(h).inner)),
    closeHandle: (h) => counted(owner(h).session.closeHandle(owner(h).inner)),
    posixRename: (from, to) => counted(on(to).posixRename(from, to)),
    unlink: (path) => counted(on(path).unlink(path)),
    mkdir: (path) => counted(on(path).mkdir(path)),
    rmdir: (path) => counted(on(path).rmdir(path)),
    setTimes: (path, mtimeMs) => counted(on(path).setTimes(path, mtimeMs)),
    end: () => {
      ended = true;
      for (const s of sessions) s.end();
    },
  };
}
