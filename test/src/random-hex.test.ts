// randomHex (src/random-hex.ts) names temp files from a pool of random bytes: every name has the
// asked length in hex, and names do not repeat, across the pool's refills too.

import { describe, expect, it } from 'vitest';
import { randomBelow, randomHex } from '../../src/random-hex.js';

describe('randomHex', () => {
  it('gives hex of twice the bytes asked, never the same twice over several refills of its pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const h = randomHex(6);
      expect(h).toMatch(/^[0-9a-f]{12}$/);
      seen.add(h);
    }
    expect(seen.size).toBe(5_000); // 30,000 bytes: the 4 KB pool was refilled 7 times
    expect(randomHex(4)).toMatch(/^[0-9a-f]{8}$/);
    expect(randomHex(5000)).toMatch(/^[0-9a-f]{10000}$/); // more than a pool at once
  });
});

describe('randomBelow', () => {
  it('gives every value below n, evenly enough, and refuses an n it cannot serve', () => {
    const counts = new Array<number>(36).fill(0);
    for (let i = 0; i < 360_000; i++) counts[randomBelow(36)]! += 1;
    // 10,000 expected each (a standard deviation of about 100). A byte taken modulo 36 without the
    // rejection would give values 0-3 8/7 as often as the rest (256 = 7 x 36 + 4): about 11,400.
    for (const c of counts) expect(c).toBeGreaterThan(9_400);
    for (const c of counts) expect(c).toBeLessThan(10_600);
    expect(randomBelow(1)).toBe(0);
    expect(() => randomBelow(0)).toThrow(RangeError);
    expect(() => randomBelow(257)).toThrow(RangeError);
  });
});
