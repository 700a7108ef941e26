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
 * size, mtime, ctime) is an unchanged file. A load takes the ledger out (no copy: copying 10,000
 * entries was ~4 ms of every daemon pass) and only a save puts it back, so a pass that changes its
 * ledger and then fails before saving leaves nothing here: the next load reads the file.
 */
const last = new Map<string, { stamp: FileStamp; ledger: SentLedger }>();
/** The stamp of the file a ledger was loaded from, taken before it was read. */
const loadedAt = new WeakMap<SentLedger, FileStamp>();

export async function loadSent(mr: Mailroom, host: string): Promise<SentLedger> {
  const path = pathOf(mr, host);
  // The stamp before the read: a rewrite in between leaves an older stamp, so the next load reads again.
  const st = lstatSync(path, { throwIfNoEntry: false });
  const kept = last.get(path);
  last.delete(path);
  if (kept && st && sameStamp(kept.stamp, st)) {
    loadedAt.set(kept.ledger, kept.stamp);
    return kept.ledger;
  }
  try {
    const data = JSON.parse(await readFile(path, 'utf8')) as Record<string, Identity>;
    const ledger: SentLedger = new Map(Object.entries(data));
    if (st) loadedAt.set(ledger, stampOf(st));
    return ledger;
  } catch {
    return new Map();
  }
}

/**
 * Saves the ledger when it changed; an unchanged one goes back with the stamp its file had when it
 * was loaded (rewritten since by another process, the file has another stamp, and is read again).
 */
export async function saveSent(
  mr: Mailroom,
  host: string,
  ledger: SentLedger,
  changed: boolean,
): Promise<void> {
  const path = pathOf(mr, host);
  if (!changed) {
    const stamp = loadedAt.get(ledger);
    if (stamp) last.set(path, { stamp, ledger });
    return;
  }
  await writeFileAtomic(path, JSON.stringify(Object.fromEntries(ledger)), { mkdir: true });
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st) last.set(path, { stamp: stampOf(st), ledger });
}
