// The one way mailroom reads a file it did not write itself (a task file in a box, a far file brought
// here, a sidecar): opened with O_NOFOLLOW | O_NONBLOCK, so a symbolic link is refused by the kernel
// and a fifo or device swapped in after a listing can never block the open; the type is checked on
// the open descriptor (fstat), so what is read is what was checked; and at most `maxBytes` are read,
// so a file that grows or lies about its size costs a bounded amount of memory (docs/spec.md §6).

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { errnoCode, MailroomError, notFound } from '../errors.js';
import { formatSize } from '../size.js';

export const tooBigReason = (size: number, limit: number) =>
  `is ${formatSize(size)}, over the ${formatSize(limit)} limit: skipped`;

/** A file over a size limit: skipped and reported by name; the rest of the work goes on. */
export class TooBigError extends MailroomError {
  constructor(
    readonly path: string,
    readonly size: number,
    readonly limit: number,
    limitKey: string,
  ) {
    super('refused', `${path} is ${formatSize(size)}, over the ${formatSize(limit)} limit: skipped`, {
      hint: `shrink it or move it out of agents/, or raise ${limitKey} in mailroom.yaml`,
    });
    this.name = 'TooBigError';
  }
}

/** Not a regular file (a link, a fifo, a device, a folder): never opened for reading. */
export class NotAFileError extends MailroomError {
  constructor(
    readonly path: string,
    readonly what: string,
  ) {
    super('refused', `${path} is a ${what}, not a regular file: not read`, {
      hint: 'mailroom never follows links or reads special files; replace it with a regular file',
    });
    this.name = 'NotAFileError';
  }
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export interface ReadLimit {
  maxBytes: number;
  /** The mailroom.yaml key that sets the limit, for the message. */
  limitKey?: string;
}

/**
 * A regular file's bytes, read from the descriptor that was type-checked; notFound when missing.
 * The reads are synchronous system calls: for the small local files mailroom reads (task files, a
 * few KB) one open/fstat/read/close costs about 10 µs, where the promise API's four trips through
 * the thread pool cost over 100 µs (a cold listing of 10,000 tasks: 1.4 s against 0.1 s,
 * docs/performance.md). O_NONBLOCK keeps a fifo from ever blocking the open (docs/spec.md §6).
 */
export async function readRegularFile(path: string, limit: ReadLimit): Promise<Buffer> {
  return readRegularFileSync(path, limit);
}

/** readRegularFile, as a synchronous call. */
export function readRegularFileSync(path: string, limit: ReadLimit): Buffer {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(`${path} does not exist`);
    if (code === 'ELOOP') throw new NotAFileError(path, 'symbolic link');
    if (code === 'ENXIO') throw new NotAFileError(path, 'socket or fifo');
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new NotAFileError(path, st.isDirectory() ? 'folder' : st.isFIFO() ? 'fifo' : 'special file');
    const key = limit.limitKey ?? 'limits.task_file';
    if (st.size > limit.maxBytes) throw new TooBigError(path, st.size, limit.maxBytes, key);
    // Read to the end, but never past the limit: the file may grow while it is read. The first read
    // asks for one byte more than fstat said: fewer back is the end of a regular file (one read, one
    // buffer of the file's size: two reads into 64 KiB buffers each were a cold scan's largest cost).
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const want = Math.min(total === 0 ? st.size + 1 : 64 * 1024, limit.maxBytes + 1 - total);
      if (want <= 0) throw new TooBigError(path, total, limit.maxBytes, key);
      const buf = Buffer.allocUnsafe(want);
      const bytesRead = readSync(fd, buf, 0, want, total);
      if (bytesRead > 0) chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (bytesRead < want) break;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}
