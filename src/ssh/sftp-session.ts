// mailroom's own view of an SFTP session: promise-based, with failures classified into a few kinds
// the endpoint can act on. Types only — connect.ts implements it over ssh2, so nothing outside that
// one module depends on the library's callback API or its numeric status codes.

export type RemoteKind = 'file' | 'dir' | 'symlink' | 'other';

export interface RemoteStat {
  readonly kind: RemoteKind;
  readonly size: number;
  /** SFTP v3 carries whole seconds: this is a multiple of 1000, from the far side's clock. */
  readonly mtimeMs: number;
}

export interface RemoteEntry {
  readonly name: string;
  /** As the server's readdir reports it; OpenSSH's sftp-server uses lstat, so links stay links. */
  readonly stat: RemoteStat;
}

export type SftpFailure =
  | 'noSuchFile'
  | 'permissionDenied'
  | 'failure' // SFTP v3's catch-all: also "already exists" for mkdir and exclusive open
  | 'unsupported' // the server lacks an extension mailroom needs
  | 'connectionLost'
  | 'other';

export class SftpError extends Error {
  readonly failure: SftpFailure;
  readonly op: string;
  readonly path: string;

  constructor(failure: SftpFailure, op: string, path: string, message: string, cause?: unknown) {
    super(`${op} ${path}: ${message}`, cause === undefined ? undefined : { cause });
    this.name = 'SftpError';
    this.failure = failure;
    this.op = op;
    this.path = path;
  }
}

export const isSftpFailure = (err: unknown, failure: SftpFailure): boolean =>
  err instanceof SftpError && err.failure === failure;

export interface BoundedRead {
  readonly kind: RemoteKind;
  readonly size: number;
  readonly bytes?: Buffer;
}

/** An open remote file. Opaque outside connect.ts. */
export interface RemoteHandle {
  readonly path: string;
}

export interface SftpSession {
  /** Largest write the server takes in one request; larger writes should be split by the caller. */
  readonly maxWriteBytes: number;
  lstat(path: string): Promise<RemoteStat>;
  /** Entries without `.` and `..`. */
  readdir(path: string): Promise<RemoteEntry[]>;
  /**
   * Opens `path`, checks its type and size on the open handle, and reads at most `maxBytes`: `bytes`
   * is set only for a regular file within the limit (else `size` says what was seen).
   */
  readFileBounded(path: string, maxBytes: number): Promise<BoundedRead>;
  /** Creates a new file for writing; fails ('failure') when anything exists at `path`. */
  createExclusive(path: string): Promise<RemoteHandle>;
  write(handle: RemoteHandle, data: Buffer, position: number): Promise<void>;
  /** Sets the open file's atime and mtime (fsetstat; whole seconds on the wire, `mtimeMs` floored). */
  setHandleTimes(handle: RemoteHandle, mtimeMs: number): Promise<void>;
  /** fsync@openssh.com. */
  fsync(handle: RemoteHandle): Promise<void>;
  closeHandle(handle: RemoteHandle): Promise<void>;
  /** posix-rename@openssh.com: atomically replaces `to` (plain SFTP rename refuses an existing target). */
  posixRename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  /** Sets atime and mtime (whole seconds on the wire). */
  setTimes(path: string, mtimeMs: number): Promise<void>;
  /** Ends this SFTP channel (the SSH connection stays). */
  end(): void;
}
