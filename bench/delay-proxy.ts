// A WAN stand-in on loopback (docs/sshd.md, "Round-trip time"): a TCP proxy that holds every chunk
// for `oneWayMs` in each direction before passing it on, in order (one timer per chunk with the same
// delay: Node fires equal-delay timers in the order they were set). `tc netem` is not available here.

import { createServer, type Socket, connect as tcpConnect } from 'node:net';

export interface DelayProxy {
  readonly port: number;
  close(): Promise<void>;
}

function relay(from: Socket, to: Socket, oneWayMs: number): void {
  from.on('data', (chunk: Buffer) => {
    if (oneWayMs <= 0) to.write(chunk);
    else setTimeout(() => to.writable && to.write(chunk), oneWayMs);
  });
  from.on('end', () => (oneWayMs <= 0 ? to.end() : setTimeout(() => to.end(), oneWayMs)));
  from.on('error', () => to.destroy());
}

export async function startDelayProxy(targetPort: number, rttMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    relay(client, upstream, rttMs / 2);
    relay(upstream, client, rttMs / 2);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the delay proxy has no port');
  return {
    port: address.port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
