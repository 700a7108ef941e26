// randomHex (src/random-hex.ts) names temp files from a pool of random bytes: every name has the
// asked length in hex, and names do not repeat, across the pool's refills too.

import { describe, expect, it } from 'vitest';
import { randomHex } from '../../src/random-hex.js';

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
