// Reports of files that cannot be read as tasks (docs/spec.md §2), and of folders mailroom will not
// use (a box or agent folder that is a link, or a file): once per content version, in the event log,
// in `mailroom status`, and in a sidecar `<file>.error.txt` beside the file. The file itself is never
// touched. When it is fixed (or removed), the sidecar goes away.
//
// The event is the report; the sidecar is a courtesy for a person browsing the folder, written best
// effort after it. A report is remembered (not repeated) only once its event is in the log, so a
// failure on the way is retried on the next pass rather than forgotten.

import type { Dirent } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { sha256Hex } from '../src/hash.js';
import type { Mailroom } from '../src/mailroom.js';
import { writeFileAtomic } from '../src/store/atomic.js';
import { listFolder } from '../src/store/folders.js';
import { BOXES } from '../src/store/layout.js';
import { readdirOrEmpty } from '../src/store/scan.js';

export const SIDECAR_SUFFIX = '.error.txt';
const HASH_LINE = 'content-sha256: ';
const FILE_LINE = 'file: ';

/**
 * A file name as one line of a sidecar: as it is, or JSON-quoted when it holds a control character
 * (a newline would split the line), starts with a quote, or has spaces at either end (trimmed on read).
 */
const hasControl = (s: string): boolean => [...s].some((c) => c.charCodeAt(0) < 0x20 || c === '\x7f');
const nameLine = (name: string): string =>
  hasControl(name) || /^["\s]|\s$/.test(name) ? JSON.stringify(name) : name;
const nameFromLine = (value: string): string | undefined => {
  if (!value.startsWith('"')) return value;
  try {
    const name: unknown = JSON.parse(value);
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Sidecar names longer than this (in bytes) are shortened. NAME_MAX is 255 bytes, and the atomic
 * write's temp name adds about 25 (`.<name>.tmp-<pid>-<8 hex>`).
 */
const MAX_SIDECAR_NAME_BYTES = 200;
const SHORT_PREFIX_BYTES = 100;

/** The longest prefix of `s` that is at most `bytes` bytes of UTF-8, never half a character. */
function utf8Prefix(s: string, bytes: number): string {
  let used = 0;
  let out = '';
  for (const ch of s) {
    used += Buffer.byteLength(ch);
    if (used > bytes) break;
    out += ch;
  }
  return out;
}

/**
 * The sidecar of a file: `<name>.error.txt` beside it, or for a name too long for that,
 * `<the name's first 100 bytes>-<8 hex of the name's sha256>.error.txt` (the sidecar's `file:` line
 * names the file in full).
 */
export function sidecarPath(path: string): string {
  const name = basename(path);
  if (Buffer.byteLength(name) + SIDECAR_SUFFIX.length <= MAX_SIDECAR_NAME_BYTES)
    return `${path}${SIDECAR_SUFFIX}`;
  const sha8 = sha256Hex(name).slice(0, 8);
  return join(dirname(path), `${utf8Prefix(name, SHORT_PREFIX_BYTES)}-${sha8}${SIDECAR_SUFFIX}`);
}

export interface Report {
  path: string;
  line?: number;
  reason: string;
  hash: string;
  since: string;
  /** A folder mailroom will not use, rather than a file it cannot read. */
  folder?: boolean;
}

export class ReportBook {
  /** path -> the report in force */
  readonly open = new Map<string, Report>();

  constructor(private readonly mr: Mailroom) {}

  /**
   * Rebuild from the sidecars of these agents' folders, so a restarted daemon does not report the
   * same content again. Folders that are links are not read (their reports are made afresh).
   */
  async load(agents: string[]): Promise<void> {
    const layout = this.mr.layout;
    const dirs = [
      layout.agentsDir,
      ...agents.flatMap((a) => [layout.agentDir(a), ...BOXES.map((b) => layout.boxDir(a, b))]),
    ];
    const listings: [string, Dirent[]][] = [[layout.root, await readdirOrEmpty(layout.root)]];
    for (const dir of dirs) listings.push([dir, (await listFolder(layout, dir)).entries]);
    for (const [dir, entries] of listings) {
      for (const { name } of entries) {
        if (!name.endsWith(SIDECAR_SUFFIX)) continue;
        const sidecar = join(dir, name);
        const lines = (await readFile(sidecar, 'utf8').catch(() => '')).split('\n');
        const field = (prefix: string) =>
          lines
            .find((l) => l.startsWith(prefix))
            ?.slice(prefix.length)
            .trim();
        const hash = field(HASH_LINE);
        const fileLine = field(FILE_LINE);
        const file = fileLine === undefined ? undefined : nameFromLine(fileLine);
        const path =
          file && !file.includes('/') && file !== '.' && file !== '..'
            ? join(dir, file)
            : sidecar.slice(0, -SIDECAR_SUFFIX.length);
        if (sidecarPath(path) !== sidecar) continue; // not ours, or not this file's
        const reason = lines[1]?.replace(/^(line \d+: )?/, '') ?? 'unreadable';
        const folder = lines[0]?.startsWith('mailroom will not use the folder') ?? false;
        if (hash)
          this.open.set(path, {
            path,
            reason,
            hash,
            since: this.mr.now().toISOString(),
            ...(folder ? { folder } : {}),
          });
      }
    }
  }

  /**
   * Report a problem with a file (or, with `folder`, a folder) unless this very content was
   * reported already. Returns whether it was reported now.
   */
  async report(
    path: string,
    bytes: Uint8Array,
    reason: string,
    line?: number,
    opts: { folder?: boolean } = {},
  ): Promise<boolean> {
    const hash = sha256Hex(bytes);
    if (this.open.get(path)?.hash === hash) return false;
    const report: Report = { path, reason, hash, since: this.mr.now().toISOString() };
    if (line !== undefined) report.line = line;
    if (opts.folder) report.folder = true;
    await this.mr.log({
      type: opts.folder ? 'folder.refused' : 'task.unreadable',
      path: this.mr.layout.rel(path),
      reason,
      ...(line === undefined ? {} : { line }),
    });
    const where = line === undefined ? '' : `line ${line}: `;
    const sidecar = [
      opts.folder
        ? `mailroom will not use the folder ${nameLine(basename(path))}:`
        : `mailroom cannot use ${nameLine(basename(path))} as a task:`,
      `${where}${reason.replace(/\s*\n\s*/g, ' ')}`,
      '',
      opts.folder
        ? 'Nothing in it was read or changed. Fix it; this note then goes away by itself.'
        : 'The file was left exactly as it is. Fix it and save it; this note then goes away by itself.',
      `${HASH_LINE}${hash}`,
      `${FILE_LINE}${nameLine(basename(path))}`,
      '',
    ].join('\n');
    // Best effort: the event above is what `mailroom status` and the log carry. A sidecar that
    // cannot be written (a read-only folder, a full disk) must not make the report repeat forever.
    await writeFileAtomic(sidecarPath(path), sidecar).catch(() => {});
    this.open.set(path, report);
    return true;
  }

  /** The file is fine now, or gone: drop its report and sidecar. */
  async clear(path: string, why: 'fixed' | 'gone'): Promise<void> {
    const report = this.open.get(path);
    if (!report) return;
    await rm(sidecarPath(path), { force: true }).catch(() => {});
    this.open.delete(path);
    await this.mr.log({
      type: report.folder ? 'folder.fixed' : why === 'fixed' ? 'task.readable' : 'task.unreadable.gone',
      path: this.mr.layout.rel(path),
    });
  }
}
