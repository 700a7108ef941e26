// Opens the far side of a host from its configuration: ~/.ssh/config aliases, users, ports and
// identity files are honoured; host keys are checked against known_hosts (never accepted blindly).

import type { HostConfig } from '../config/schema.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { openSftpEndpoint } from '../endpoint/sftp.js';
import { expandHome } from '../home.js';
import { connectSsh, type SshConnection } from '../ssh/connect.js';
import { resolveTargetFromSystem } from '../ssh/resolve-target.js';

export { expandHome };

export interface HostLink {
  endpoint: Endpoint;
  connection: SshConnection;
  close(): Promise<void>;
}

export async function openHost(name: string, host: HostConfig): Promise<HostLink> {
  const target = resolveTargetFromSystem(host.ssh);
  const connection = await connectSsh({
    host: target.host,
    port: target.port,
    user: target.user,
    identityFiles: host.identity ? [expandHome(host.identity)] : target.identityFiles,
    knownHostsPath: expandHome(host.known_hosts),
    label: `${name} (${host.ssh})`,
  });
  try {
    const endpoint = await openSftpEndpoint(connection, {
      root: expandHome(host.root),
      label: `${name}:${host.root}`,
    });
    return {
      endpoint,
      connection,
      close: async () => {
        await endpoint.close().catch(() => {});
        await connection.close();
      },
    };
  } catch (err) {
    await connection.close().catch(() => {});
    throw err;
  }
}
