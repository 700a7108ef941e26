// The periodic rescan is the daemon's truth and file events are hints (README, "The daemon"): while
// rescans find nothing the watcher did not announce they back off, and one that finds a change no
// event announced brings the interval back at once.

import { describe, expect, it } from 'vitest';
import { nextRescanMs } from '../../daemon/run.js';

describe('nextRescanMs', () => {
  const base = 10_000;
  it.each([
    // current, what the pass found, next
    [10_000, { changed: false, hinted: false }, 20_000],
    [20_000, { changed: false, hinted: true }, 40_000],
    [40_000, { changed: false, hinted: false }, 60_000],
    [60_000, { changed: false, hinted: false }, 60_000],
    [60_000, { changed: true, hinted: true }, 60_000],
    [60_000, { changed: true, hinted: false }, 10_000],
    [10_000, { changed: true, hinted: false }, 10_000],
  ])('%i ms, then a pass that found %j: %i ms', (current, pass, next) => {
    expect(nextRescanMs(current, base, pass)).toBe(next);
  });

  it('never waits more than six rescans, however long nothing changes', () => {
    let ms = base;
    for (let i = 0; i < 50; i++) ms = nextRescanMs(ms, base, { changed: false, hinted: false });
    expect(ms).toBe(6 * base);
  });
});
