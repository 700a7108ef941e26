// Random bytes for temp-file names and task ids, drawn from a pool: one read of the system's random
// source per 4 KB instead of one per name. Each call cost about 20 µs, 40 ms of a far agent's first
// copy of 2,000 files (docs/performance.md, "The far agent's first copy").
//
// The pool is filled from /dev/urandom, read directly: loading node:crypto for it cost every command
// 4-6 ms of its start (docs/performance.md, "CLI start-up"). Where there is no such device, node:crypto
// fills it.

import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let at = 0;

function fillRandom(buf: Buffer): void {
  let fd: number | undefined;
  try {
    fd = openSync('/dev/urandom', 'r');
    for (let n = 0; n < buf.length; ) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got <= 0) throw new Error('/dev/urandom gave nothing');
      n += got;
    }
    return;
  } catch {
    // no such device here (or it failed): node:crypto below
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  crypto.randomFillSync(buf);
}

/** `bytes` bytes from the pool (refilled when it runs short). */
function take(bytes: number): { buf: Buffer; from: number } {
  if (at + bytes > pool.length) {
    pool = Buffer.alloc(Math.max(POOL_BYTES, bytes));
    fillRandom(pool);
    at = 0;
  }
  const from = at;
  at += bytes;
  return { buf: pool, from };
}

/** `bytes` random bytes as hex (2 characters each). */
export function randomHex(bytes: number): string {
  const { buf, from } = take(bytes);
  return buf.toString('hex', from, from + bytes);
}

/**
 * A new id for a snapshot written whole (the sync state's, the ls cache's), which the files that
 * build on it (journals) name: time-ordered, and random past the millisecond.
 */
export const newGenerationId = (): string => `${Date.now().toString(36)}-${randomHex(4)}`;

/** A uniformly random integer in [0, n), for 1 <= n <= 256 (a byte, rejection-sampled). */
export function randomBelow(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new RangeError(`randomBelow(${n}): n must be 1..256`);
  const limit = 256 - (256 % n); // bytes at or above it would make the low values likelier
  for (;;) {
    const { buf, from } = take(1);
    const byte = buf[from]!;
    if (byte < limit) return byte % n;
  }
}
