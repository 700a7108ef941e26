// A cold scan reads and hashes every file with synchronous calls; the Breather gives the event loop a
// turn every few milliseconds (src/sync/scan.ts), so that an SSH handshake running beside the scan is
// not held up for the whole of it.

import { describe, expect, it } from 'vitest';
import { mapLimit } from '../../src/map-limit.js';
import { Breather } from '../../src/sync/scan.js';

const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
};

/** Runs 100 items of 1 ms of synchronous work each, 16 at a time; returns the item done when an immediate ran. */
async function whenTheLoopTurned(breather: Breather | undefined): Promise<number> {
  let done = 0;
  let seenAt = -1;
  setImmediate(() => {
    seenAt = done;
  });
  await mapLimit(
    Array.from({ length: 100 }, (_, i) => i),
    16,
    async () => {
      await breather?.turn();
      busy(1);
      done++;
    },
  );
  await new Promise<void>((r) => setImmediate(r));
  return seenAt;
}

describe('Breather', () => {
  it('gives the event loop a turn within the first few milliseconds of work', async () => {
    const at = await whenTheLoopTurned(new Breather(4));
    expect(at).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThan(20);
  });

  it('without it, the loop waits for all of the work (what the test above would catch)', async () => {
    expect(await whenTheLoopTurned(undefined)).toBe(100);
  });

  it('every caller waiting meanwhile shares one turn', () => {
    const b = new Breather(0);
    busy(1);
    const first = b.turn();
    expect(first).toBeInstanceOf(Promise);
    expect(b.turn()).toBe(first);
  });
});
