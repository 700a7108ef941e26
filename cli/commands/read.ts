// Handlers for the read commands: ls, show, log, doctor.

import { open as openFile, stat } from 'node:fs/promises';
import { formatAge } from '../../src/duration.js';
import { type MailroomEvent, parseEvents, readEvents } from '../../src/events/log.js';
import { type ListFilter, listTasks, summarise } from '../../src/ops/list.js';
import { findRoot } from '../../src/root.js';
import { safeText } from '../../src/safe-text.js';
import { Layout } from '../../src/store/layout.js';
import { loadTask } from '../../src/store/tasks.js';
import { type CommonOptions, open } from '../context.js';
import { printJson, println, table, warn } from '../output.js';

export async function ls(opts: CommonOptions & ListFilter): Promise<void> {
  const mr = await open(opts);
  const filter: ListFilter = {};
  if (opts.agent !== undefined) filter.agent = opts.agent;
  if (opts.state !== undefined) filter.state = opts.state;
  if (opts.box !== undefined) filter.box = opts.box;
  const { tasks, problems } = await listTasks(mr, filter);
  if (opts.json) {
    printJson({ tasks, problems });
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
    println(table(rows));
  }
  for (const p of problems)
    warn(`unreadable: ${safeText(p.path)}${p.line ? `:${p.line}` : ''}: ${safeText(p.reason)}`);
}

export async function show(id: string, opts: CommonOptions): Promise<void> {
  const mr = await open(opts);
  const t = await loadTask(mr, id);
  if (opts.json) {
    const { task, file } = t.parsed;
    printJson({ ...summarise(mr, t), task, body: file.body });
    return;
  }
  println(`# ${safeText(mr.layout.rel(t.path))}`);
  println(t.text.endsWith('\n') ? t.text.slice(0, -1) : t.text);
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

export async function log(opts: CommonOptions & { follow?: boolean; task?: string }): Promise<void> {
  const layout = new Layout(findRoot(opts.root));
  const matches = (e: MailroomEvent) => opts.task === undefined || e.id?.startsWith(opts.task);
  const emit = (e: MailroomEvent) =>
    opts.json && opts.follow ? println(JSON.stringify(e)) : println(formatEvent(e));
  const events = (await readEvents(layout.eventsPath)).filter(matches);
  if (opts.json && !opts.follow) {
    printJson({ events });
    return;
  }
  for (const e of events) emit(e);
  if (!opts.follow) return;
  // Follow by polling the file size: portable, and a missed wake-up costs at most one interval.
  let offset = await stat(layout.eventsPath).then(
    (s) => s.size,
    () => 0,
  );
  let carry = '';
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const size = await stat(layout.eventsPath).then(
      (s) => s.size,
      () => 0,
    );
    if (size < offset) offset = 0; // truncated or replaced
    if (size === offset) continue;
    const handle = await openFile(layout.eventsPath, 'r');
    const buf = Buffer.alloc(size - offset);
    await handle.read(buf, 0, buf.length, offset);
    await handle.close();
    offset = size;
    const text = carry + buf.toString('utf8');
    const cut = text.lastIndexOf('\n') + 1;
    carry = text.slice(cut);
    for (const e of parseEvents(text.slice(0, cut)).filter(matches)) emit(e);
  }
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
