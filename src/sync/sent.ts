// What this machine knows it synced with each host, by task id: the `from`, `to` and `attempt` of the
// last version both sides held (.mailroom/sync/<host>.sent.json). The base of the sync state forgets
// a task once it left both sides' host folders, and a pass cut off before saving its state forgets
// what it did; this ledger is never pruned by a pass, so a task the hub sent is never mistaken for a
// new task from the host (and quarantined) after a crash (docs/spec.md §6, provenance.ts).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mailroom } from '../mailroom.js';
import { checkHostName } from '../names.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { Identity } from './provenance.js';

export type SentLedger = Map<string, Identity>;

const pathOf = (mr: Mailroom, host: string) =>
  join(mr.layout.stateDir, 'sync', `${checkHostName(host)}.sent.json`);

export async function loadSent(mr: Mailroom, host: string): Promise<SentLedger> {
  try {
    const data = JSON.parse(await readFile(pathOf(mr, host), 'utf8')) as Record<string, Identity>;
    return new Map(Object.entries(data));
  } catch {
    return new Map();
  }
}

/** Saves the ledger when it changed (`before` is its size and a stamp taken at load). */
export async function saveSent(
  mr: Mailroom,
  host: string,
  ledger: SentLedger,
  changed: boolean,
): Promise<void> {
  if (!changed) return;
  await writeFileAtomic(pathOf(mr, host), JSON.stringify(Object.fromEntries(ledger)), { mkdir: true });
}
