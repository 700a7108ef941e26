// Two real mailrooms for sync tests, made by the real CLI in one temp folder: a hub with host `vps`
// (an address never dialled: tests hand the far folder to the engine as its endpoint) and the far
// mailroom that host's root names, with the same agents on both sides (docs/spec.md §6).

import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli, tempDir } from './cli.js';

export interface TwoSides {
  hub: string;
  far: string;
  cleanup: () => Promise<void>;
}

export async function twoSides(agents: string[] = ['research']): Promise<TwoSides> {
  const tmp = await tempDir();
  const hub = join(tmp.dir, 'hub');
  const far = join(tmp.dir, 'far');
  for (const args of [
    ['init', hub],
    ['--root', hub, 'host', 'add', 'vps', 'deploy@203.0.113.7', '--root', far],
    ...agents.map((agent) => ['agent', 'add', agent, '--host', 'vps', '--root', hub]),
    ['init', far],
    ...agents.map((agent) => ['agent', 'add', agent, '--root', far]),
  ]) {
    const r = await runCli(args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  }
  return { hub, far, cleanup: tmp.cleanup };
}
