// Turns the figures into what the bench prints: one table for people, one JSON document for machines,
// and the verdict on each target of issue 5. Pure: figures in, text or data out.

import type { CliFigures } from './cli-latency.js';
import type { DaemonFigures, Footprint } from './daemon-figures.js';
import type { Samples } from './measure.js';
import type { SyncFigures } from './sync-passes.js';

export interface RunInfo {
  tasks: number;
  agents: number;
  changed: number;
  taskBytes: number;
  reps: number;
  cores: number;
  /** 1-minute load average at the start and at the end: other work on the machine is noise. */
  load: [number, number];
  node: string;
  sshd: string;
  rsync: string;
  unison: string | undefined;
  generateMs: number;
  /** The far mailroom folder was seeded with a copy (default) instead of pushed by mailroom. */
  seeded: boolean;
  elapsedMs: number;
  adaptive: string[];
}

export interface Figures {
  sync: SyncFigures;
  cli: CliFigures;
  daemon: DaemonFigures;
}

export interface Target {
  name: string;
  figure: string;
  value: number;
  limit: number;
  /** How value compares with limit: '<=' or '<'. */
  op: '<=' | '<';
  unit: 'x' | 'ms' | '%' | 'MB';
  met: boolean;
  note?: string;
}

const ratio = (a: Samples | undefined, b: Samples | undefined) =>
  a && b && b.medianMs > 0 ? a.medianMs / b.medianMs : Number.NaN;

function target(t: Omit<Target, 'met'>): Target {
  return { ...t, met: t.op === '<=' ? t.value <= t.limit : t.value < t.limit };
}

export function targets(f: Figures): Target[] {
  const s = f.sync;
  return [
    target({
      name: 'daemon incremental pass vs rsync',
      figure: 'incremental.daemonFast / incremental.rsync',
      value: ratio(s.incremental.daemonFast, s.incremental.rsync),
      limit: 0.25,
      op: '<=',
      unit: 'x',
    }),
    target({
      name: 'one-shot `mailroom sync` vs rsync',
      figure: 'incremental.oneShot / incremental.rsync',
      value: ratio(s.incremental.oneShot, s.incremental.rsync),
      limit: 1,
      op: '<=',
      unit: 'x',
    }),
    target({
      name: 'propagation far -> hub, streaming (median)',
      figure: 'daemon.streamed',
      value: f.daemon.streamed?.medianMs ?? Number.NaN,
      limit: 100,
      op: '<=',
      unit: 'ms',
      ...(f.daemon.streamProblem ? { note: f.daemon.streamProblem } : {}),
    }),
    target({
      name: 'propagation hub -> far, push on change (median)',
      figure: 'daemon.push',
      value: f.daemon.push.medianMs,
      limit: 100,
      op: '<=',
      unit: 'ms',
    }),
    target({
      name: '`mailroom ack` vs `node -e 0`',
      figure: 'cli.ack / cli.node',
      value: ratio(f.cli.ack, f.cli.node),
      limit: 1.5,
      op: '<=',
      unit: 'x',
    }),
    target({
      name: '`mailroom ls` vs `node -e 0`',
      figure: 'cli.ls / cli.node',
      value: ratio(f.cli.ls, f.cli.node),
      limit: 3,
      op: '<=',
      unit: 'x',
    }),
    target({
      name: 'daemon idle CPU',
      figure: 'daemon.footprint.cpuPercent',
      value: f.daemon.footprint.cpuPercent,
      limit: 1,
      op: '<',
      unit: '%',
    }),
    target({
      name: 'daemon idle RSS',
      figure: 'daemon.footprint.rssMb',
      value: f.daemon.footprint.rssMb,
      limit: 150,
      op: '<',
      unit: 'MB',
    }),
  ];
}

/** The RSS samples across the window, beside the figure taken at its end. */
function rssSpread(f: Footprint): string {
  const r = f.rssSamples;
  if (!r) return '';
  return `  RSS sampled every 2 s across the window: median ${r.medianMb.toFixed(1)} MB (${r.minMb.toFixed(1)}..${r.maxMb.toFixed(1)} MB, n=${r.n})`;
}

/** Every ratio the text prints, by name (medians over medians). */
export function ratios(f: Figures): Record<string, number> {
  const s = f.sync;
  return {
    daemonPassVsRsync: ratio(s.incremental.daemonFast, s.incremental.rsync),
    daemonFullPassVsRsync: ratio(s.incremental.daemonPass, s.incremental.rsync),
    oneShotVsRsync: ratio(s.incremental.oneShot, s.incremental.rsync),
    unisonVsRsync: ratio(s.incremental.unison, s.incremental.rsync),
    noopDaemonPassVsRsync: ratio(s.noop.daemonPass, s.noop.rsync),
    noopOneShotVsRsync: ratio(s.noop.oneShot, s.noop.rsync),
    noopUnisonVsRsync: ratio(s.noop.unison, s.noop.rsync),
    ackVsNode: ratio(f.cli.ack, f.cli.node),
    lsVsNode: ratio(f.cli.ls, f.cli.node),
  };
}

export function toJson(info: RunInfo, f: Figures): unknown {
  return { schemaVersion: 1, run: info, figures: f, ratios: ratios(f), targets: targets(f) };
}

const ms = (x: number) => (Number.isFinite(x) ? `${x >= 100 ? x.toFixed(0) : x.toFixed(1)} ms` : 'n/a');
const sec = (x: number) => `${(x / 1000).toFixed(1)} s`;
const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : 'n/a');
const spreadOf = (s: Samples) => `(${ms(s.minMs)}..${ms(s.maxMs)}, n=${s.samplesMs.length})`;
const requests = (c: Record<string, number>) =>
  `${Object.values(c).reduce((a, b) => a + b, 0)} (${Object.entries(c)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')})`;

function verdict(t: Target): string {
  if (!Number.isFinite(t.value)) return `not measured, target ${t.op} ${t.limit} ${t.unit}: NOT met`;
  const shown =
    t.unit === 'x'
      ? times(t.value)
      : t.unit === 'ms'
        ? ms(t.value)
        : `${t.value.toFixed(1)}${t.unit === '%' ? '%' : ' MB'}`;
  return `${shown}, target ${t.op} ${t.limit}${t.unit === 'x' ? 'x' : t.unit === '%' ? '%' : ` ${t.unit}`}: ${t.met ? 'met' : 'NOT met'}`;
}

export function toText(info: RunInfo, f: Figures): string {
  const s = f.sync;
  const ts = targets(f);
  const by = (name: string) => verdict(ts.find((t) => t.name === name)!);
  const row = (label: string, x: Samples | undefined, tail = '') =>
    x ? `  ${label.padEnd(46)} ${ms(x.medianMs).padStart(9)}  ${spreadOf(x).padEnd(28)} ${tail}` : '';
  const unisonRow = (x: Samples | undefined, base: Samples | undefined) =>
    info.unison
      ? row('unison -batch (fresh ssh connection)', x, `${times(ratio(x, base))} rsync`)
      : '  unison: not installed';
  const lines = [
    `mailroom bench: ${info.tasks} tasks of ${info.taskBytes} B across ${info.agents} agents on one host; ` +
      `median of up to ${info.reps} rounds; node ${info.node}, ${info.cores} cores, ` +
      `load average ${info.load[0].toFixed(1)} at start, ${info.load[1].toFixed(1)} at end`,
    `sshd: ${info.sshd}`,
    `tools: ${info.rsync}; ${info.unison ?? 'unison: not installed'}`,
    `setup (untimed): hub generated in ${sec(info.generateMs)}; first passes, run side by side: mailroom ` +
      `${info.seeded ? 'adopting a pre-copied far folder' : 'pushing every task'} ${sec(s.setup.initialMs.mailroom!)}, ` +
      `rsync full copy ${sec(s.setup.initialMs.rsync!)}` +
      `${s.setup.initialMs.unison !== undefined ? `, unison full copy ${sec(s.setup.initialMs.unison)}` : ''}`,
    `  fresh \`ssh host true\` ${ms(s.setup.sshTrueMs)}; ssh2 connect + ${s.setup.transport === 'agent' ? 'far mailroom agent' : 'SFTP channel'} (once, kept) ${ms(s.setup.connectMs)}`,
    '',
    `1. incremental sync, ${info.changed} of ${info.tasks} tasks changed on the hub (median, min..max)`,
    row(
      'daemon, the K changed paths (fast path)',
      s.incremental.daemonFast,
      `${by('daemon incremental pass vs rsync')}`,
    ),
    row(
      'daemon full pass (syncHost, kept connection)',
      s.incremental.daemonPass,
      `${times(ratio(s.incremental.daemonPass, s.incremental.rsync))} rsync`,
    ),
    row('rsync -a --delete -e ssh (fresh connection)', s.incremental.rsync, '1.00x (the reference)'),
    unisonRow(s.incremental.unison, s.incremental.rsync),
    '',
    '2. one-shot `mailroom sync` (node process, fresh connection), and a no-op pass',
    row(
      'one-shot mailroom sync, incremental',
      s.incremental.oneShot,
      by('one-shot `mailroom sync` vs rsync'),
    ),
    row('  of which the pass incl. connect (--json)', s.oneShotPassMs),
    row(
      'no-op: daemon pass',
      s.noop.daemonPass,
      `${times(ratio(s.noop.daemonPass, s.noop.rsync))} rsync no-op`,
    ),
    row(
      'no-op: one-shot mailroom sync',
      s.noop.oneShot,
      `${times(ratio(s.noop.oneShot, s.noop.rsync))} rsync no-op`,
    ),
    row('no-op: rsync', s.noop.rsync),
    info.unison
      ? row('no-op: unison', s.noop.unison, `${times(ratio(s.noop.unison, s.noop.rsync))} rsync no-op`)
      : '  unison: not installed',
    `  files re-read per daemon pass (median): incremental ${s.reads.incremental.local} local + ${s.reads.incremental.remote} far; ` +
      `no-op ${s.reads.noop.local} + ${s.reads.noop.remote}`,
    `  SFTP requests per daemon pass: no-op ${requests(s.sftpRequests.noop)}`,
    `                                 incremental ${requests(s.sftpRequests.incremental)}`,
    '',
    '3. change propagation with the daemon running: a new task on one side until it exists on the other',
    row(
      'hub -> far: push on a local change',
      f.daemon.push,
      by('propagation hub -> far, push on change (median)'),
    ),
    f.daemon.streamed
      ? row(
          'far -> hub: streamed (far `mailroom watch`)',
          f.daemon.streamed,
          by('propagation far -> hub, streaming (median)'),
        )
      : `  far -> hub, streaming: not measured (${f.daemon.streamProblem ?? 'no streaming'})`,
    `  (daemon start until its first sync pass finished: ${ms(f.daemon.readyMs)})`,
    '',
    `4. CLI latency on the ${info.tasks}-task mailroom`,
    row('node -e 0', f.cli.node, '1.00x (the reference)'),
    row('mailroom ack ID', f.cli.ack, by('`mailroom ack` vs `node -e 0`')),
    row('mailroom ls (inbox + outbox, all agents)', f.cli.ls, by('`mailroom ls` vs `node -e 0`')),
    '',
    `5. daemon footprint, idle with ${info.tasks} tasks (window ${sec(f.daemon.footprint.windowMs)}, from 10 s after the last change: the slowest periodic work, the interval pass with the host, backs off from 60 s to 5 min; ${f.daemon.footprint.syncPasses ?? 0} sync pass(es) and the rescans, backing off from 10 s to 60 s, in it)`,
    `  CPU share ${by('daemon idle CPU')}`,
    `  RSS ${by('daemon idle RSS')} (peak VmHWM ${f.daemon.footprint.hwmMb.toFixed(1)} MB)`,
    rssSpread(f.daemon.footprint),
    f.daemon.farWatcher
      ? `  far side's \`mailroom watch\` (same window): CPU ${f.daemon.farWatcher.cpuPercent.toFixed(1)}%, ` +
        `RSS ${f.daemon.farWatcher.rssMb.toFixed(1)} MB (peak ${f.daemon.farWatcher.hwmMb.toFixed(1)} MB)`
      : '',
    '',
    `targets met: ${ts.filter((t) => t.met).length} of ${ts.length}` +
      (ts.some((t) => !t.met)
        ? ` (not met: ${ts
            .filter((t) => !t.met)
            .map((t) => t.name)
            .join('; ')})`
        : ''),
    ...info.adaptive.map((a) => `note: ${a}`),
    ...s.warnings.map((w) => `warning: ${w}`),
    `bench time: ${sec(info.elapsedMs)} (setup and measurement; the build comes before, deleting the files after)`,
  ];
  return lines.filter((l, i, all) => !(l === '' && all[i - 1] === '')).join('\n');
}
