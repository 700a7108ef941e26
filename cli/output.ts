// How the CLI speaks: `--json` gives a stable shape with schemaVersion 1 for agents; otherwise short
// lines for people. Errors go to stderr as one or two lines; a stack only with --debug.

import { MailroomError } from '../src/errors.js';
import { safeLines, safeText } from '../src/safe-text.js';

export interface OutputOptions {
  json?: boolean;
}

/**
 * A reader that stops early (`mailroom ls | head -3`) closes the pipe: end quietly with exit 0, as
 * there is nobody left to tell, instead of an unhandled EPIPE stack trace.
 */
export function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
}

/** What exitWhenWritten needs of an output stream. */
interface Drainable {
  readonly writableLength: number;
  once(event: 'drain', listener: () => void): unknown;
}

/**
 * Ends the process with `code` once standard output and error hold nothing unwritten. Every command
 * has finished its work when its handler returns (long-running ones return when stopped), so what
 * would follow is only Node tearing down: freeing the heap page by page and signal-exit (loaded with
 * proper-lockfile) removing its 18 signal handlers one by one, 10-25 ms of every command
 * (docs/performance.md). `exit` listeners still run: the code cache is written in one.
 */
export function exitWhenWritten(
  code: number,
  streams: readonly Drainable[] = [process.stdout, process.stderr],
): void {
  process.exitCode = code;
  // On Linux a pipe, file or terminal is written synchronously, so nothing waits there; on macOS a
  // pipe is written asynchronously, and an exit before 'drain' would cut the output short.
  const pending = streams.filter((s) => s.writableLength > 0);
  let left = pending.length;
  if (left === 0) process.exit(code);
  for (const s of pending)
    s.once('drain', () => {
      if (--left === 0) process.exit(code);
    });
}

export function printJson(value: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ schemaVersion: 1, ...value }, null, 2)}\n`);
}

/** A line (or our own lines) for a person: control characters and bidi overrides escaped (safe-text.ts). */
export function println(line = ''): void {
  process.stdout.write(`${safeLines(line)}\n`);
}

export function warn(line: string): void {
  process.stderr.write(`${safeLines(line)}\n`);
}

/** Format a table with columns padded to their widest cell; the last column is not padded. */
export function table(rows: string[][]): string {
  const lines: string[] = [];
  formatTable(
    rows.map((row) => [...row]),
    (line) => lines.push(line),
  );
  return lines.join('\n');
}

/**
 * A table (above) on standard output, written in pieces of about 64 KB: `ls` of 10,000 tasks no
 * longer builds a 1 MB string to copy it twice. Its cells are escaped, so the text is not scanned
 * again. `rows` are escaped in place: they are the caller's, made to be printed.
 */
export function printTable(rows: string[][]): void {
  let piece = '';
  formatTable(rows, (line) => {
    piece += `${line}\n`;
    if (piece.length >= 65_536) {
      process.stdout.write(piece);
      piece = '';
    }
  });
  if (piece !== '') process.stdout.write(piece);
}

// Plain loops: `ls` formats 10,000 rows, mostly in the interpreter, where the iterators and
// closures of map/entries were most of its formatting time.
function formatTable(rows: string[][], line: (text: string) => void): void {
  const widths: number[] = [];
  // Cells are escaped whole (a newline in a title must not forge a row), before widths are taken.
  for (const row of rows)
    for (let i = 0; i < row.length; i++) {
      const cell = safeText(row[i]!);
      row[i] = cell;
      if (!(widths[i]! >= cell.length)) widths[i] = cell.length;
    }
  for (const row of rows) {
    let text = '';
    for (let i = 0; i < row.length - 1; i++) text += `${row[i]!.padEnd(widths[i]!)}  `;
    line((text + (row[row.length - 1] ?? '')).trimEnd());
  }
}

/** Exit code of `next`, `wait` and `ask --wait` when nothing came in time (docs/spec.md §4). */
export const EXIT_NOTHING = 5;

/** The one top-level catch: map an error to its exit code and a message for a person. */
export function reportError(err: unknown, debug: boolean, json = false): number {
  // Under --json an agent reads stdout: the error is there too, in the same envelope.
  if (json) {
    const e = err instanceof MailroomError ? err : undefined;
    printJson({
      error: {
        kind: e?.kind ?? 'unexpected',
        exitCode: e?.exitCode ?? 1,
        message: e?.message ?? (err instanceof Error ? err.message : String(err)),
        ...(e?.hint ? { hint: e.hint } : {}),
      },
    });
  }
  if (err instanceof MailroomError) {
    warn(`mailroom: ${safeText(err.message)}`);
    if (err.hint) warn(`  ${safeText(err.hint)}`);
    if (debug && err.stack) warn(err.stack);
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  warn(`mailroom: unexpected error: ${safeText(e.message)}`);
  warn(debug ? (e.stack ?? '') : '  run again with --debug for details, and please report it');
  return 1;
}
