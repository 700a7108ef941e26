// A loopback TCP proxy for fault injection: forwards bytes both ways to a target port, and can cut
// every connection after exactly N more bytes in one direction ('up' = client to server, 'down' =
// server to client). Invariant: once a cut is armed, no byte past the threshold is forwarded.

import { createServer, type Socket, connect as tcpConnect } from 'node:net';

export type Direction = 'up' | 'down';

export interface CutEvent {
  readonly direction: Direction;
  /** Bytes forwarded in that direction (over all connections) when the cut happened. */
  readonly at: number;
}

export interface CutProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Bytes forwarded so far, over all connections. */
  bytes(): { up: number; down: number };
  /** Cut all open connections once `n` more bytes have gone `direction` (counted from now). */
  armCut(direction: Direction, n: number): void;
  /** Cut all open connections now. */
  cutNow(): void;
  /** Resolves at the next cut. */
  nextCut(): Promise<CutEvent>;
  close(): Promise<void>;
}

export async function startCutProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<CutProxy> {
  const counted = { up: 0, down: 0 };
  const limit: { up: number | undefined; down: number | undefined } = { up: undefined, down: undefined };
  const pairs = new Set<[Socket, Socket]>();
  let waiters: ((e: CutEvent) => void)[] = [];

  const cutAll = (direction: Direction) => {
    limit.up = undefined;
    limit.down = undefined;
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
    const event = { direction, at: counted[direction] };
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve(event);
  };

  // Forwards with backpressure; a chunk crossing the threshold is forwarded only up to it.
  const forward = (from: Socket, to: Socket, direction: Direction) => {
    from.on('data', (chunk: Buffer) => {
      const max = limit[direction];
      if (max !== undefined && counted[direction] + chunk.length >= max) {
        const keep = max - counted[direction];
        counted[direction] += keep;
        from.pause(); // nothing more from this side may slip through before the cut lands
        if (keep > 0) to.write(chunk.subarray(0, keep), () => cutAll(direction));
        else cutAll(direction);
        return;
      }
      counted[direction] += chunk.length;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.on('end', () => to.end());
  };

  const server = createServer((client) => {
    const upstream = tcpConnect({ host: targetHost, port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const teardown = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    forward(client, upstream, 'up');
    forward(upstream, client, 'down');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('cut-proxy: no address');

  return {
    host: '127.0.0.1',
    port: address.port,
    bytes: () => ({ ...counted }),
    armCut(direction, n) {
      if (!(n >= 0)) throw new Error(`cut-proxy: bad byte count ${n}`);
      limit[direction] = counted[direction] + n;
    },
    cutNow: () => cutAll('up'),
    nextCut: () => new Promise((resolve) => waiters.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
