// Task ids: `YYYYMMDD-HHMMSS-xxxx` (UTC time + 4 random base-36 characters). Unique across machines
// without coordination (1.7 million choices per second, and creation is exclusive on each machine),
// sortable by creation time, and short enough to type a prefix of.

import { randomBelow } from '../random-hex.js';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

export function newTaskId(now: Date, random: (n: number) => number = randomBelow): string {
  const iso = now.toISOString(); // 2026-11-22T10:15:00.000Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
  let tail = '';
  for (let i = 0; i < 4; i++) tail += ALPHABET[random(ALPHABET.length)];
  return `${stamp}-${tail}`;
}

/** ISO 8601 UTC to the second, as task files carry it. */
export function isoSeconds(now: Date): string {
  return `${now.toISOString().slice(0, 19)}Z`;
}
