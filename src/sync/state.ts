// The sync state kept per host under .mailroom/sync/<host>.json (machine-local, never synced): the
// ancestor of the three-way reconcile (what both sides held after the last successful sync, with the
// base version's fields for field-level merges) and each side's scan cache. Written atomically; a
// missing or unreadable state file means "no ancestor", which makes the next pass conservative
// (nothing is deleted, differences are merged).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mailroom } from '../mailroom.js';
import { checkHostName } from '../names.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { TaskBase } from './merge-task.js';
import type { SideCache } from './scan.js';

export interface BaseTask {
  loc: string;
  hash: string;
  rank: number;
  /** The base version's frontmatter fields and body hash, for field-level merges. */
  base?: TaskBase;
}

export interface SyncState {
  version: 1;
  host: string;
  lastSyncAt?: string;
  lastAttemptAt?: string;
  lastError?: string;
  lastDurationMs?: number;
  /** null: no ancestor (never synced, or the state was lost). */
  base: { tasks: Record<string, BaseTask>; files: Record<string, { hash: string }> } | null;
  local: SideCache;
  remote: SideCache;
}

export const syncDir = (mr: Mailroom): string => join(mr.layout.stateDir, 'sync');
export const syncStatePath = (mr: Mailroom, host: string): string =>
  join(syncDir(mr), `${checkHostName(host)}.json`);

export function emptyState(host: string): SyncState {
  return { version: 1, host, base: null, local: {}, remote: {} };
}

export async function loadSyncState(mr: Mailroom, host: string): Promise<SyncState> {
  try {
    const data = JSON.parse(await readFile(syncStatePath(mr, host), 'utf8')) as SyncState;
    if (data.version !== 1 || data.host !== host) return emptyState(host);
    return data;
  } catch {
    return emptyState(host);
  }
}

export async function saveSyncState(mr: Mailroom, state: SyncState): Promise<void> {
  await writeFileAtomic(syncStatePath(mr, state.host), JSON.stringify(state), { mkdir: true });
}
