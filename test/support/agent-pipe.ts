// A far agent in this process: `mailroom serve`'s server on one end of a pair of in-memory pipes,
// the hub's AgentEndpoint on the other. The same protocol, framing and checks as over SSH, without
// the sshd (for scenarios about sync rules rather than transport, e.g. the torture's merge model).

import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { watchPaths } from '../../daemon/watch.js';
import { AgentEndpoint } from '../../src/endpoint/agent.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import { AgentClient } from '../../src/remote/client.js';
import { ManifestCopy } from '../../src/remote/manifest-copy.js';
import { serveAgent } from '../../src/remote/serve.js';
import type { RemoteChannel } from '../../src/ssh/connect.js';

export async function pipedAgent(
  root: string,
  agents: readonly string[],
  host = 'vps',
  /** Where the hub keeps its copy of the last manifest (manifest-copy.ts): passes then send changes. */
  manifestCopy?: string,
  /** With `watch`, the far agent can watch its folders as `mailroom serve` does (a daemon follows it). */
  opts: { watch?: boolean } = {},
): Promise<AgentEndpoint> {
  const up = new PassThrough();
  const down = new PassThrough();
  const agentsDir = join(root, 'agents');
  const served = serveAgent({
    endpoint: localEndpoint(root),
    input: up,
    output: down,
    ...(opts.watch
      ? {
          watch: (onPath: (rel: string) => void, onError: (err: unknown) => void) =>
            watchPaths([agentsDir], (p) => onPath(`agents/${p.slice(agentsDir.length + 1)}`), { onError }),
        }
      : {}),
  }).finally(() => down.end());
  const channel: RemoteChannel = {
    write: (chunk) => up.write(chunk),
    drained: () => new Promise<void>((r) => up.once('drain', () => r())),
    onData: (cb) => down.on('data', cb),
    onEnd: (cb) => down.on('end', cb),
    pause: () => down.pause(),
    resume: () => down.resume(),
    exited: served.then(() => 0),
    stderr: () => '',
    close: () => up.end(),
  };
  const client = await AgentClient.start(channel, { host, command: '(in this process)', agents });
  const copy = manifestCopy ? new ManifestCopy(manifestCopy, agents) : undefined;
  const endpoint = new AgentEndpoint(client, `${host}:${root}`, host, copy);
  // Closed once the far agent has ended too: it saves its scan cache and manifest copy into the far
  // folder as it ends, and a test that removes that folder right after must not race those writes.
  const close = endpoint.close.bind(endpoint);
  endpoint.close = async () => {
    await close();
    await served;
  };
  return endpoint;
}
