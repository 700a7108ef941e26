// What a problem with one file or folder looks like, wherever it is found (the daemon's pass, the
// store's scans, ls and status): data, not a thrown error, so one bad file never stops the rest
// (Mutagen's `Problem{Path, Error}`). The path is relative to the mailroom root: it is shown to people
// and written to the event log and the status file, which must not depend on where the root is
// mounted. (The store's scans hand it on with the path still absolute, as StoreProblem in
// src/store/scan.ts; the op that shows it makes it relative.)

export interface Problem {
  /** Relative to the mailroom root (`agents/a/inbox/x.md`). */
  path: string;
  /** What is wrong, one sentence. */
  reason: string;
  /** 1-based line in the file, when the problem is at one. */
  line?: number;
  /** What to do about it. */
  hint?: string;
}

/** One line for people: `path:line: reason; hint`. */
export function problemLine(p: Problem): string {
  const where = p.line === undefined ? p.path : `${p.path}:${p.line}`;
  return `${where}: ${p.reason}${p.hint === undefined ? '' : `; ${p.hint}`}`;
}
