// Handlers for the read commands: ls, show, log, doctor.

import { formatAge, parseDurationMs } from '../../src/duration.js';
import { usageError } from '../../src/errors.js';
import type { MailroomEvent } from '../../src/events/log.js';
import { followEvents, queryEvents } from '../../src/events/query.js';
import type { Mailroom } from '../../src/mailroom.js';
import { deadlineOf, type ListFilter, listTasks, summarise } from '../../src/ops/list.js';
import { findRoot } from '../../src/root.js';
import { safeText } from '../../src/safe-text.js';
import { Layout } from '../../src/store/layout.js';
import type { LoadedTask } from '../../src/store/scan.js';
import { loadTask } from '../../src/store/tasks.js';
import { splitResult } from '../../src/task/result.js';
import { actingAs, type CommonOptions, open } from '../context.js';
import { printJson, println, printTable, warn } from '../output.js';
import { onStopSignal } from '../stop-signal.js';

export async function ls(opts: CommonOptions & Omit<ListFilter, 'mine'> & { mine?: boolean }): Promise<void> {
  const mr = await open(opts);
  const filter: ListFilter = {};
  if (opts.agent !== undefined) filter.agent = opts.agent;
  if (opts.state !== undefined) filter.state = opts.state;
  if (opts.box !== undefined) filter.box = opts.box;
  if (opts.mine) {
    const me = actingAs(opts);
    if (me === undefined)
      throw usageError('--mine needs the acting agent', 'add --as AGENT or set $MAILROOM_AGENT');
    filter.mine = me;
  }
  const { tasks, problems } = await listTasks(mr, filter);
  if (opts.json) {
    printJson({ tasks: tasks.map((t) => ({ ...t, deadline: deadlineOf(t) })), problems });
    return;
  }
  const now = mr.now().getTime();
  if (tasks.length === 0) println('no tasks');
  else {
    const rows = [['ID', 'STATE', 'PRIORITY', 'AGE', 'AGENT', 'BOX', 'FROM', 'TITLE']];
    for (const t of tasks)
      rows.push([
        t.id,
        t.state,
        t.priority,
        formatAge(now - Date.parse(t.created)),
        t.agent,
        t.box,
        t.from,
        t.title,
      ]);
    printTable(rows);
  }
  for (const p of problems)
    warn(`unreadable: ${safeText(p.path)}${p.line ? `:${p.line}` : ''}: ${safeText(p.reason)}`);
}

export async function show(id: string, opts: CommonOptions): Promise<void> {
  const mr = await open(opts);
  const t = await loadTask(mr, id);
  if (opts.json) {
    printJson(taskJson(mr, t));
    return;
  }
  println(`# ${safeText(mr.layout.rel(t.path))}`);
  println(t.text.endsWith('\n') ? t.text.slice(0, -1) : t.text);
}

/** One task for agents: where it is, its fields, its deadline, the body, and the result on its own. */
export function taskJson(mr: Mailroom, t: LoadedTask): Record<string, unknown> {
  const { task, file } = t.parsed;
  const summary = summarise(mr, t);
  return {
    ...summary,
    deadline: deadlineOf(summary),
    task,
    body: file.body,
    result: splitResult(file.body).result,
  };
}

function formatEvent(e: MailroomEvent): string {
  const parts = [e.at, e.type.padEnd(16)];
  if (e.id) parts.push(e.id);
  if (e.type === 'task.transition' && e.from && e.to) parts.push(`${e.from} -> ${e.to}`);
  if (e.by) parts.push(`by ${e.by}`);
  if (e.agent && e.type !== 'task.transition') parts.push(`agent ${e.agent}`);
  if (e.note) parts.push(`(${e.note})`);
  if (typeof e.reason === 'string') parts.push(`: ${e.reason}`);
  return parts.map(safeText).join('  ');
}

export interface LogOptions extends CommonOptions {
  follow?: boolean;
  fromStart?: boolean;
  task?: string;
  lines?: string;
  since?: string;
}

export async function log(opts: LogOptions): Promise<void> {
  const layout = new Layout(findRoot(opts.root));
  const match = (e: MailroomEvent) => opts.task === undefined || (e.id?.includes(opts.task) ?? false);
  const query = { match, ...logWindow(opts) };
  if (!opts.follow) {
    const events = await queryEvents(layout.eventsPath, query);
    if (opts.json) printJson({ events });
    else for (const e of events) println(formatEvent(e));
    return;
  }
  // Following prints what comes from now on; --from-start, -n or --since print history first.
  const emit = (e: MailroomEvent) => {
    if (!match(e)) return;
    // JSON as is (never escaped for a terminal: a C1 escape would not be JSON); lines for people escaped.
    if (opts.json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, ...e })}\n`);
    else println(formatEvent(e));
  };
  if (opts.fromStart || query.last !== undefined || query.since !== undefined)
    for (const e of await queryEvents(layout.eventsPath, query)) emit(e);
  const controller = new AbortController();
  onStopSignal(['SIGINT'], () => controller.abort());
  await followEvents(layout.eventsPath, emit, { signal: controller.signal });
}

/** -n N and --since TIME|DURATION as a query window (a duration means that long ago). */
function logWindow(opts: LogOptions): { last?: number; since?: number } {
  const out: { last?: number; since?: number } = {};
  if (opts.lines !== undefined) {
    const n = Number(opts.lines);
    if (!Number.isInteger(n) || n < 0)
      throw usageError(
        `invalid -n ${JSON.stringify(opts.lines)}`,
        'give a whole number of events, e.g. -n 50',
      );
    out.last = n;
  }
  if (opts.since !== undefined) {
    const ago = parseDurationMs(opts.since);
    const at = ago === undefined ? Date.parse(opts.since) : Date.now() - ago;
    if (Number.isNaN(at))
      throw usageError(
        `invalid --since ${JSON.stringify(opts.since)}`,
        'give a time (2026-11-27T10:00:00Z, 2026-11-27) or a duration ago (30m, 2h, 1d)',
      );
    out.since = at;
  }
  return out;
}

export async function runDoctor(opts: CommonOptions & { fix?: boolean }): Promise<number> {
  const layout = new Layout(findRoot(opts.root));
  // Imported here, not at the top: doctor checks host keys, and ls/show must not pay for that code.
  const { doctor } = await import('../../src/ops/doctor.js');
  const findings = await doctor(layout, { fix: opts.fix === true });
  const open = findings.filter((f) => !f.fixed);
  if (opts.json) printJson({ ok: open.length === 0, findings });
  else if (findings.length === 0)
    println('all good: configuration valid, no stale locks or temp files, every task readable');
  else {
    for (const f of findings) {
      println(
        `${f.fixed ? 'fixed' : 'problem'} [${f.check}] ${f.path ? `${safeText(f.path)}${f.line ? `:${f.line}` : ''}: ` : ''}${safeText(f.problem)}`,
      );
      if (!f.fixed) println(`  fix: ${safeText(f.fix)}`);
    }
  }
  return open.length === 0 ? 0 : 1;
}
