// Reports of files that cannot be read as tasks (SPEC section 2): once per content version, in the
// event log, in `mailroom status`, and in a sidecar `<file>.error.txt` beside the file. The file itself
// is never touched. When it is fixed (or removed), the sidecar goes away.

import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Mailroom } from '../src/mailroom.js';
import { writeFileAtomic } from '../src/store/atomic.js';
import { readdirOrEmpty } from '../src/store/scan.js';

export const SIDECAR_SUFFIX = '.error.txt';
const HASH_LINE = 'content-sha256: ';

export interface Report {
  path: string;
  line?: number;
  reason: string;
  hash: string;
  since: string;
}

export const contentHash = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export class ReportBook {
  /** path -> the report in force */
  readonly open = new Map<string, Report>();

  constructor(private readonly mr: Mailroom) {}

  /** Rebuild from sidecars on disk, so a restarted daemon does not report the same content again. */
  async load(dirs: string[]): Promise<void> {
    for (const dir of dirs) {
      for (const { name } of await readdirOrEmpty(dir)) {
        if (!name.endsWith(SIDECAR_SUFFIX)) continue;
        const sidecar = join(dir, name);
        const text = await readFile(sidecar, 'utf8').catch(() => '');
        const hash = text
          .split('\n')
          .find((l) => l.startsWith(HASH_LINE))
          ?.slice(HASH_LINE.length)
          .trim();
        const path = sidecar.slice(0, -SIDECAR_SUFFIX.length);
        const reason = text.split('\n')[1]?.replace(/^(line \d+: )?/, '') ?? 'unreadable';
        if (hash) this.open.set(path, { path, reason, hash, since: this.mr.now().toISOString() });
      }
    }
  }

  /** Report a problem with a file unless this very content was reported already. */
  async report(path: string, bytes: Uint8Array, reason: string, line?: number): Promise<boolean> {
    const hash = contentHash(bytes);
    if (this.open.get(path)?.hash === hash) return false;
    const report: Report = { path, reason, hash, since: this.mr.now().toISOString() };
    if (line !== undefined) report.line = line;
    this.open.set(path, report);
    const where = line === undefined ? '' : `line ${line}: `;
    const sidecar = [
      `mailroom cannot use ${basename(path)} as a task:`,
      `${where}${reason}`,
      '',
      'The file was left exactly as it is. Fix it and save it; this note then goes away by itself.',
      `${HASH_LINE}${hash}`,
      '',
    ].join('\n');
    await writeFileAtomic(`${path}${SIDECAR_SUFFIX}`, sidecar);
    await this.mr.log({
      type: 'task.unreadable',
      path: this.mr.layout.rel(path),
      reason,
      ...(line === undefined ? {} : { line }),
    });
    return true;
  }

  /** The file is fine now, or gone: drop its report and sidecar. */
  async clear(path: string, why: 'fixed' | 'gone'): Promise<void> {
    if (!this.open.has(path)) return;
    this.open.delete(path);
    await rm(`${path}${SIDECAR_SUFFIX}`, { force: true });
    await this.mr.log({
      type: why === 'fixed' ? 'task.readable' : 'task.unreadable.gone',
      path: this.mr.layout.rel(path),
    });
  }
}
