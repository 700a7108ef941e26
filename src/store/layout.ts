// Where things live inside a mailroom root (docs/spec.md §1). Every path is built here, and only from
// names that passed src/names.ts, so no caller can point outside the root.

import { join } from 'node:path';
import { checkAgentName, checkTaskId } from '../names.js';

export const BOXES = ['inbox', 'outbox', 'archive'] as const;
export type Box = (typeof BOXES)[number];
export const isBox = (s: string): s is Box => (BOXES as readonly string[]).includes(s);

export const CONFIG_FILE = 'mailroom.yaml';
export const STATE_DIR = '.mailroom';

export class Layout {
  constructor(readonly root: string) {}

  get configPath(): string {
    return join(this.root, CONFIG_FILE);
  }
  get agentsDir(): string {
    return join(this.root, 'agents');
  }
  get stateDir(): string {
    return join(this.root, STATE_DIR);
  }
  get eventsPath(): string {
    return join(this.stateDir, 'events.jsonl');
  }
  agentDir(agent: string): string {
    return join(this.agentsDir, checkAgentName(agent));
  }
  boxDir(agent: string, box: Box): string {
    return join(this.agentDir(agent), box);
  }
  taskPath(agent: string, box: Box, id: string): string {
    return join(this.boxDir(agent, box), `${checkTaskId(id)}.md`);
  }
  /** The folder of large results that travels with a task (docs/spec.md §2). */
  filesDir(agent: string, box: Box, id: string): string {
    return join(this.boxDir(agent, box), `${checkTaskId(id)}.files`);
  }
  /** Path relative to the root, for messages people read. */
  rel(path: string): string {
    return path.startsWith(`${this.root}/`) ? path.slice(this.root.length + 1) : path;
  }
}

/**
 * The one test for a name in a box that is never a task (and never task data for sync): dot files
 * (our temp files, kept drops, sync sidecars' temps), editor leftovers (`x~`, `.swp`, `.swx`, vim's
 * `4913` probe) and lock folders (`<file>.lock`). The daemon's scan, the store's scans, sync's scans
 * and the watcher's noise filter all ask this.
 */
export function isNeverATask(name: string): boolean {
  return (
    name.startsWith('.') ||
    name.endsWith('~') ||
    name.endsWith('.swp') ||
    name.endsWith('.swx') ||
    name === '4913' ||
    name.endsWith('.lock')
  );
}
