// V8's memory reducer, tuned for mailroom's long-running processes (daemon, serve, watch, mcp, board).
//
// After a burst of allocation V8 waits 8 s and then runs up to three full garbage collections to give
// memory back. An idle daemon with 10,000 tasks allocates in a burst at every rescan and sync pass
// (once a minute or so), so it paid that trio again and again: about half of its idle CPU, measured
// with --trace-gc (docs/performance.md, "Idle CPU and the memory reducer"). Here the reducer runs one
// collection instead of three, and only after five minutes without a burst: a mailroom left alone
// still gives memory back; one with a steady pulse of small passes no longer churns its whole heap.
//
// The young generation stays at its starting size (`--semi-space-growth-factor=1`): each pass's
// working set (10,000 scan entries, the far manifest) used to grow it to 16 MB per semi-space, 32 MB
// that stayed resident between passes, and made the daemon's RSS swing between 130 and 250 MB
// (docs/performance.md, "Idle memory"). Objects that outlive a pass are promoted a little sooner.
//
// These flags are read by V8 each time it decides, so setting them at run time works (the growth
// factor too, at run time, though not as a start-up flag: measured; `--no-memory-reducer` does not:
// that one is read once, when the heap is set up).

import { setFlagsFromString } from 'node:v8';

const FLAGS = [
  '--memory-reducer-single-gc',
  '--gc-memory-reducer-start-delay-ms=300000',
  '--no-memory-reducer-for-small-heaps',
  '--semi-space-growth-factor=1',
] as const;

/** V8's own defaults for the same flags (`node --v8-options`, Node 20). */
const DEFAULTS = [
  '--no-memory-reducer-single-gc',
  '--gc-memory-reducer-start-delay-ms=8000',
  '--memory-reducer-for-small-heaps',
  '--semi-space-growth-factor=2',
] as const;

export function tuneForLongRunning(): void {
  for (const flag of FLAGS) setFlagsFromString(flag);
  // V8 stamps a code cache with a hash of its flags and rejects one whose hash is not the running
  // process's. The launcher writes its cache at exit (bin/compile-cache.ts): written with these flags
  // set, every later start rejected it, compiled the whole bundle again (~100 ms of each far agent's
  // start) and wrote it again. So the defaults come back first, before the launcher's exit listener.
  process.prependOnceListener('exit', () => {
    for (const flag of DEFAULTS) setFlagsFromString(flag);
  });
}
