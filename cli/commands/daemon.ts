// Handlers for `mailroom daemon` and `mailroom status [--watch]`.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runDaemon } from '../../daemon/run.js';
import { formatAge, parseDurationMs } from '../../src/duration.js';
import { usageError } from '../../src/errors.js';
import type { Mailroom } from '../../src/mailroom.js';
import { initMailroom } from '../../src/ops/setup.js';
import { type StatusReport, statusReport } from '../../src/ops/status.js';
import { safeLines, safeText } from '../../src/safe-text.js';
import { CONFIG_FILE } from '../../src/store/layout.js';
import { STATES } from '../../src/task/state.js';
import { type CommonOptions, open } from '../context.js';
import { tuneForLongRunning } from '../long-running.js';
import { printJson, table } from '../output.js';
import { onStopSignal } from '../stop-signal.js';

export async function daemon(
  opts: CommonOptions & { rescan?: string; polling?: boolean; init?: boolean },
): Promise<void> {
  tuneForLongRunning();
  if (opts.init) {
    const root = resolve(opts.root ?? process.env.MAILROOM_ROOT ?? '.');
    if (!existsSync(join(root, CONFIG_FILE))) {
      await initMailroom(root);
      process.stderr.write(`created a local mailroom in ${root} (agents dispatch and human)\n`);
    }
    opts.root = root;
  }
  const mr = await open(opts);
  const rescanMs = opts.rescan === undefined ? undefined : parseDurationMs(opts.rescan);
  if (opts.rescan !== undefined && rescanMs === undefined)
    throw usageError(`invalid --rescan ${JSON.stringify(opts.rescan)}`, 'durations look like 500ms, 10s, 1m');
  const controller = new AbortController();
  const stop = () => controller.abort();
  onStopSignal(['SIGINT', 'SIGTERM'], stop);
  // A full UTC timestamp (2026-11-27T16:40:05Z): service logs outlive a day and cross time zones.
  const say = (line: string) =>
    process.stderr.write(`${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} ${safeText(line)}\n`);
  await runDaemon(mr, {
    signal: controller.signal,
    say,
    polling: opts.polling === true,
    ...(rescanMs === undefined ? {} : { rescanMs }),
  });
}

function render(r: StatusReport, now: number): string {
  const lines: string[] = [];
  const d = r.daemon;
  const health = d.running
    ? `daemon running (pid ${d.pid}, last pass ${d.lastPassAt ? `${formatAge(now - Date.parse(d.lastPassAt))} ago` : 'pending'})`
    : 'daemon NOT running: nothing is routed or supervised (start it with `mailroom daemon`)';
  lines.push(`mailroom at ${r.root}`, health);
  if (d.lastError) lines.push(`  last error: ${d.lastError}`);
  lines.push('');
  lines.push(
    table([
      ['AGENT', ...STATES.map((s) => s.toUpperCase()), 'HOST', 'ROLE', 'ALIVE'],
      ...r.agents.map((a) => [
        a.name,
        ...STATES.map((s) => String(a.counts[s])),
        a.host,
        a.role ?? '-',
        alive(a, now),
      ]),
    ]),
  );
  const attention = r.needsYou.map((n) => [
    n.kind,
    n.id ?? n.path,
    n.agent ?? '',
    `${n.state ?? ''}${n.since ? ` ${formatAge(now - Date.parse(n.since))}` : ''}`.trim(),
    n.why,
  ]);
  lines.push('');
  if (attention.length === 0) lines.push('nothing needs attention');
  else lines.push('needs attention:', table(attention.map((row) => ['  ', ...row.map(printable)])));
  if (r.hosts.length > 0) {
    lines.push('', 'hosts:');
    for (const h of r.hosts) {
      const sync = h.lastSync && h.lagMs !== null ? `last sync ${formatAge(h.lagMs)} ago` : 'never synced';
      const line = `  ${h.name}  ${h.ssh}:${h.root}  ${h.via ?? h.transport}  ${sync}${h.error ? `  ERROR: ${h.error}` : ''}`;
      lines.push(printable(line));
    }
  }
  return lines.join('\n');
}

/** `working`, `idle`, `down` or `person`, with the age of the last sign of life. */
function alive(a: StatusReport['agents'][number], now: number): string {
  const seen = a.lastSeen ? ` (${formatAge(now - Date.parse(a.lastSeen))} ago)` : '';
  return `${a.state}${seen}`;
}

/** Task titles, reasons and paths come from files anyone can write: escaped by the one safe-text rule. */
const printable = safeText;

/** Returns the exit code: with `check`, 1 when something needs a person (for monitoring), else 0. */
export async function status(opts: CommonOptions & { watch?: boolean; check?: boolean }): Promise<number> {
  const mr: Mailroom = await open(opts);
  if (!opts.watch) {
    const r = await statusReport(mr);
    if (opts.json) printJson({ ...r });
    else process.stdout.write(`${safeLines(render(r, mr.now().getTime()))}\n`);
    return opts.check && r.needsYou.length > 0 ? 1 : 0;
  }
  let stopped = false;
  onStopSignal(['SIGINT'], () => {
    stopped = true;
  });
  while (!stopped) {
    const r = await statusReport(mr);
    if (opts.json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, ...r })}\n`);
    else
      process.stdout.write(
        `\x1b[2J\x1b[H${safeLines(render(r, Date.now()))}\n\n(refreshes every second; Ctrl-C to leave)\n`,
      );
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return 0;
}
