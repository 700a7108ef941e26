// Handler for `mailroom sync [HOST] [--dry-run]`: one pass per host now (for cron). Exit 4 when a
// host cannot be reached, 3 when a pass was refused (e.g. the safety check) or partial (a file over a
// size limit or the pass budget, a far lock held too long: skipped, reported by name), else 0.

import { MailroomError, notFound } from '../../src/errors.js';
import { safeText } from '../../src/safe-text.js';
import { type SyncReport, syncHost } from '../../src/sync/pass.js';
import { type CommonOptions, open } from '../context.js';
import { printJson, println, warn } from '../output.js';

function line(r: SyncReport): string {
  if (r.dryRun) {
    const p = r.plan;
    return `${r.host}: would push ${p.push}, pull ${p.pull}, merge ${p.merge}, delete ${p.delete}, conflicts ${p.conflict}`;
  }
  const via = r.transport ? ` (${r.transport.kind === 'agent' ? 'far agent' : 'SFTP'})` : '';
  return `${r.host}: pushed ${r.pushed}, pulled ${r.pulled}, merged ${r.merged}, deleted ${r.deleted} in ${(r.durationMs / 1000).toFixed(1)}s${via}`;
}

export async function sync(
  host: string | undefined,
  opts: CommonOptions & { dryRun?: boolean },
): Promise<number> {
  const mr = await open(opts);
  const hosts = host === undefined ? Object.keys(mr.config.hosts) : [host];
  if (host !== undefined && !(host in mr.config.hosts))
    throw notFound(`no host named "${host}"`, 'list hosts with `mailroom host ls`');
  if (hosts.length === 0) {
    if (opts.json) printJson({ hosts: [] });
    else println('no hosts configured: nothing to sync (add one with `mailroom host add`)');
    return 0;
  }
  let code = 0;
  const reports: (SyncReport | { host: string; error: string; exitCode: number })[] = [];
  for (const h of hosts) {
    try {
      const r = await syncHost(mr, h, { dryRun: opts.dryRun === true });
      reports.push(r);
      // A pass that skipped work says so: exit 3, so a cron job or a script notices.
      if (r.partial) code = Math.max(code, 3);
      if (!opts.json) {
        println(line(r));
        for (const c of r.conflicts) println(`  conflict: ${safeText(c)}`);
        if (r.transport?.note) warn(`  ${h}: ${safeText(r.transport.note)}`);
        for (const q of r.quarantined) warn(`  ${h}: quarantined ${safeText(q.path)}: ${safeText(q.reason)}`);
        for (const f of r.refused) warn(`  ${h}: refused: ${safeText(f.reason)}`);
        for (const p of [...r.problems, ...r.scanProblems])
          warn(`  ${h}: ${safeText(p.path)}: ${safeText(p.reason)}`);
        if (r.partial)
          warn(
            `  ${h}: partial: ${r.skipped.length + r.lockSkipped} file(s) left for a later pass (see above; exit 3)`,
          );
      }
    } catch (err) {
      if (!(err instanceof MailroomError)) throw err;
      code = Math.max(code, err.exitCode);
      reports.push({ host: h, error: err.message, exitCode: err.exitCode });
      if (!opts.json) {
        warn(`mailroom: sync with ${h} failed: ${safeText(err.message)}`);
        if (err.hint) warn(`  ${safeText(err.hint)}`);
      }
    }
  }
  if (opts.json) printJson({ hosts: reports });
  return code;
}
