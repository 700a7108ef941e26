// What the daemon and sync reported and nobody has fixed yet, read back from the event log: files
// that cannot be read as tasks (bad YAML, a refused hand edit: docs/spec.md §2 and §3), folders
// mailroom will not use, and far files held in quarantine (docs/spec.md §6). This is the one reader of
// those reports; `status` and the board both ask it.
//
// The log is append-only, so the open reports are a fold over it: a report opens an item for its
// path, its fix event closes it. The fold is pure (foldReports); a long-running reader (the board)
// feeds it what an EventTail read since it last looked.

import type { MailroomEvent } from '../events/log.js';
import { EventTail } from '../events/tail.js';

export type ReportKind = 'unreadable' | 'refused-folder' | 'quarantined';

export interface OpenReport {
  kind: ReportKind;
  /** Relative to the mailroom root (as logged). */
  path: string;
  reason: string;
  line?: number;
  /** When it was first reported in its present form. */
  since: string;
  host?: string;
  id?: string;
}

/** Event type -> what it opens; and the event types that close a report of that path. */
const OPENS: Record<string, ReportKind> = {
  'task.unreadable': 'unreadable',
  'folder.refused': 'refused-folder',
};
const CLOSES = new Set(['task.readable', 'task.unreadable.gone', 'folder.fixed']);

/**
 * Quarantine events are named by the sync layer (`*.quarantined` opens, `*.released`,
 * `*.unquarantined` or `quarantine.cleared` closes); matched by suffix so that a renamed prefix
 * (`sync.`, `task.`) does not hide them.
 */
const isQuarantine = (type: string) => type.endsWith('.quarantined') || type === 'quarantined';
const isRelease = (type: string) =>
  type.endsWith('.released') || type.endsWith('.unquarantined') || type === 'quarantine.cleared';

const keyOf = (e: MailroomEvent): string | undefined =>
  typeof e.path === 'string' ? e.path : typeof e.id === 'string' ? `id:${e.id}` : undefined;

/** Fold events into the reports still open, in `open` (path -> report), oldest first. */
export function foldReports(events: readonly MailroomEvent[], open = new Map<string, OpenReport>()) {
  for (const e of events) {
    const key = keyOf(e);
    if (key === undefined) continue;
    const kind = OPENS[e.type] ?? (isQuarantine(e.type) ? 'quarantined' : undefined);
    if (kind) {
      const prev = open.get(key);
      const reason = typeof e.reason === 'string' ? e.reason : kind;
      const report: OpenReport = {
        kind,
        path: typeof e.path === 'string' ? e.path : key,
        reason,
        // A new report of the same file (another bad version) keeps the first moment it went bad.
        since: prev && prev.kind === kind ? prev.since : e.at,
      };
      if (typeof e.line === 'number') report.line = e.line;
      if (typeof e.host === 'string') report.host = e.host;
      if (typeof e.id === 'string') report.id = e.id;
      open.set(key, report);
    } else if (CLOSES.has(e.type) || isRelease(e.type)) open.delete(key);
  }
  return open;
}

/** The reports open now, from the whole log (for one-shot readers such as `status`). */
export async function readOpenReports(eventsPath: string): Promise<OpenReport[]> {
  return [...foldReports(await new EventTail(eventsPath).read()).values()];
}
