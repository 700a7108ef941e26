// Random hex for temp-file names, drawn from a pool: one call to the system's random source per
// 4 KB instead of one per name. Each call cost about 20 µs, 40 ms of a far agent's first copy of
// 2,000 files (docs/performance.md, "The far agent's first copy").

import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let at = 0;

/** `bytes` random bytes as hex (2 characters each). */
export function randomHex(bytes: number): string {
  if (at + bytes > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, bytes));
    at = 0;
  }
  const out = pool.toString('hex', at, at + bytes);
  at += bytes;
  return out;
}
