// The one bounded-concurrency helper: many small requests (file reads in a scan, SFTP requests).
// Over SFTP, requests are pipelined on one channel, so keeping a few in flight hides the round trip;
// bounding them keeps memory and server load flat.
// Invariant: when the returned promise settles, no call of `fn` is still running — after a failure
// no new item starts, the ones in flight are awaited, and the first error is what rejects.

export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let firstError: unknown;

  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (err) {
        if (!failed) firstError = err;
        failed = true;
      }
    }
  };
  const n = Math.max(1, Math.min(Math.floor(limit), items.length));
  await Promise.all(Array.from({ length: n }, worker));
  if (failed) throw firstError;
  return results;
}
