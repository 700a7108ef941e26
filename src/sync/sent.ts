// What this machine knows it synced with each host, by task id: the `from`, `to` and `attempt` of the
// last version both sides held (.mailroom/sync/<host>.sent.json). The base of the sync state forgets
// a task once it left both sides' host folders, and a pass cut off before saving its state forgets
// what it did; this ledger is never pruned by a pass, so a task the hub sent is never mistaken for a
// new task from the host (and quarantined) after a crash (docs/spec.md §6, provenance.ts).

import { lstatSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mailroom } from '../mailroom.js';
import { checkHostName } from '../names.js';
import { writeFileAtomic } from '../store/atomic.js';
import { type FileStamp, sameStamp, stampOf } from '../store/stamp.js';
import type { Identity } from './provenance.js';

export type SentLedger = Map<string, Identity>;

const pathOf = (mr: Mailroom, host: string) =>
  join(mr.layout.stateDir, 'sync', `${checkHostName(host)}.sent.json`);

/**
 * The ledger as this process last read or wrote it, by file, with the file's stamp then: a daemon
 * loads it on every pass, and parsing 10,000 entries was a tenth of a pass that found nothing to do.
 * Every writer replaces the file by rename under the host's sync lock, so an unchanged stamp (inode,
 * size, mtime, ctime) is an unchanged file. Callers get a copy: a pass that changes its ledger and
 * then fails before saving must not leave its changes here.
 */
const last = new Map<string, { stamp: FileStamp; ledger: SentLedger }>();

function remember(path: string, ledger: SentLedger, st = lstatSync(path, { throwIfNoEntry: false })): void {
  if (st) last.set(path, { stamp: stampOf(st), ledger: new Map(ledger) });
  else last.delete(path);
}

export async function loadSent(mr: Mailroom, host: string): Promise<SentLedger> {
  const path = pathOf(mr, host);
  // The stamp before the read: a rewrite in between leaves an older stamp, so the next load reads again.
  const st = lstatSync(path, { throwIfNoEntry: false });
  const kept = last.get(path);
  if (kept && st && sameStamp(kept.stamp, st)) return new Map(kept.ledger);
  try {
    const data = JSON.parse(await readFile(path, 'utf8')) as Record<string, Identity>;
    const ledger: SentLedger = new Map(Object.entries(data));
    remember(path, ledger, st);
    return ledger;
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
  const path = pathOf(mr, host);
  await writeFileAtomic(path, JSON.stringify(Object.fromEntries(ledger)), { mkdir: true });
  remember(path, ledger);
}
