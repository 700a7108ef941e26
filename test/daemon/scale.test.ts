// Scale: 1,000 finished tasks land in ten workers' outboxes at once, and 1,000 body-only notes land in
// one inbox at once. The real daemon must route every task to its sender exactly once (bytes
// unchanged) and complete every note into a valid task, and its memory must stay sane. Memory is a
// figure printed for people, with only a generous bound asserted (memory is not timing).
//
// The daemon runs with native file events (one fs.watch per folder). When daemon/watch.ts used
// chokidar's native mode, every event re-read the whole box, and 1,000 routings took ~50 s against
// ~10 s with polling; this test is where that showed.

import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { renderTask } from '../../src/task/render.js';
import type { Task } from '../../src/task/schema.js';
import { newMailroom } from '../support/cli.js';
import { type DaemonHandle, events, locations, startDaemon } from '../support/daemon.js';
import { pollUntil } from '../support/poll.js';

const WORKERS = Array.from({ length: 10 }, (_, i) => `w${i}`);
const SENDERS = ['dispatch', 'human'] as const;
const TASKS = 1000;
const DROPS = 1000;

let env: Awaited<ReturnType<typeof newMailroom>>;
let daemon: DaemonHandle | undefined;
beforeEach(async () => {
  env = await newMailroom(WORKERS);
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await env.cleanup();
});

/** Run `fn` over `items`, at most `limit` at a time. */
async function eachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: limit }, lane));
}

interface Finished {
  id: string;
  worker: string;
  sender: string;
  text: string;
}

function finishedTask(n: number): Finished {
  const worker = WORKERS[n % WORKERS.length]!;
  const sender = SENDERS[n % SENDERS.length]!;
  const id = `20261122-101500-${n.toString(36).padStart(4, '0')}`;
  const task: Task = {
    id,
    title: `Task ${n} for ${worker}`,
    from: sender,
    to: worker,
    state: 'done',
    priority: 'normal',
    created: '2026-11-22T10:15:00Z',
    attempt: 1,
    max_attempts: 3,
    ack_timeout: '5m',
    run_timeout: '30m',
    history: [
      { state: 'queued', at: '2026-11-22T10:15:00Z', by: sender },
      { state: 'running', at: '2026-11-22T10:16:00Z', by: worker },
      { state: 'done', at: '2026-11-22T10:20:00Z', by: worker },
    ],
  };
  return { id, worker, sender, text: renderTask(task, `Do thing ${n}.\n\n## Result\n\nDid thing ${n}.\n`) };
}

/** Peak and current resident memory of a process, in MB, from /proc. */
async function memoryMb(pid: number): Promise<{ peak: number; now: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { peak: Math.round(kb('VmHWM') / 1024), now: Math.round(kb('VmRSS') / 1024) };
}

const passes = async () =>
  (JSON.parse(await readFile(join(env.root, '.mailroom/daemon.json'), 'utf8')) as { passes: number }).passes;
/** Wait for `n` more passes of the running daemon; the second one started after we asked. */
async function morePasses(n: number): Promise<void> {
  const from = await passes();
  await pollUntil(`${n} more daemon passes`, async () => (await passes()) >= from + n, 60_000);
}

const mdCount = async (agent: string, box: string) =>
  (await readdir(join(env.root, 'agents', agent, box))).filter((n) => n.endsWith('.md') && !n.startsWith('.'))
    .length;

describe('the daemon at scale', () => {
  it(`routes ${TASKS} finished tasks from ${WORKERS.length} outboxes exactly once, and completes ${DROPS} dropped notes`, async () => {
    daemon = await startDaemon(env.root, ['--rescan', '1s']);
    const pid = daemon.child.pid!;

    // 1. A thousand finished tasks appear in the outboxes at once. Each lands whole (written beside
    //    as a dot file, then renamed), the way a sync or another machine's daemon would deliver it.
    const tasks = Array.from({ length: TASKS }, (_, n) => finishedTask(n));
    let t0 = Date.now();
    await eachLimit(tasks, 32, async (t) => {
      const dir = join(env.root, 'agents', t.worker, 'outbox');
      await writeFile(join(dir, `.${t.id}.md.drop`), t.text);
      await rename(join(dir, `.${t.id}.md.drop`), join(dir, `${t.id}.md`));
    });
    await pollUntil(
      'every finished task in its sender inbox',
      async () => (await mdCount('dispatch', 'inbox')) + (await mdCount('human', 'inbox')) === TASKS,
      240_000,
      200,
    );
    const routeMs = Date.now() - t0;
    await morePasses(2); // a move is logged after it is done: let the last pass finish its log lines
    const afterRouting = await memoryMb(pid);

    // Each task once, where its sender is, bytes unchanged, one routing event each.
    const where = await locations(env.root);
    expect(where.size).toBe(TASKS);
    for (const t of tasks) {
      expect(where.get(t.id), t.id).toEqual([`${t.sender}/inbox`]);
      expect(await readFile(join(env.root, `agents/${t.sender}/inbox/${t.id}.md`), 'utf8'), t.id).toBe(
        t.text,
      );
    }
    for (const w of WORKERS) expect(await mdCount(w, 'outbox'), w).toBe(0);
    const routed = (await events(env.root)).filter((e) => e.type === 'task.routed');
    expect(routed).toHaveLength(TASKS);
    expect(new Set(routed.map((e) => e.id)).size).toBe(TASKS);

    // 2. A thousand body-only notes dropped into one inbox at once (plain writes, as a script would).
    const inbox = join(env.root, 'agents/w3/inbox');
    const notes = Array.from({ length: DROPS }, (_, n) => ({
      name: `note-${String(n).padStart(4, '0')}`,
      body: `# Check item ${n}\n\nItem ${n} needs a look before Friday.\n`,
    }));
    const since = (await events(env.root)).length;
    t0 = Date.now();
    await eachLimit(notes, 32, (note) => writeFile(join(inbox, `${note.name}.md`), note.body));
    await pollUntil(
      'every note completed',
      async () =>
        (await events(env.root)).slice(since).filter((e) => e.type === 'task.completed').length >= DROPS,
      240_000,
      200,
    );
    const completeMs = Date.now() - t0;

    const completed = (await events(env.root)).slice(since).filter((e) => e.type === 'task.completed');
    expect(completed).toHaveLength(DROPS);
    expect(new Set(completed.map((e) => e.id)).size).toBe(DROPS);
    // Dot files are never tasks (here: each completed note's original, kept a minute for late writes).
    expect((await readdir(inbox)).filter((n) => !n.startsWith('.')).sort()).toEqual(
      notes.map((n) => `${n.name}.md`).sort(),
    );
    for (const note of notes) {
      const text = await readFile(join(inbox, `${note.name}.md`), 'utf8');
      const parsed = parseTask(text, note.name);
      if (!parsed.ok) throw new Error(`${note.name}: ${parsed.problem.reason}`);
      expect(parsed.value.task).toMatchObject({
        id: note.name,
        title: `Check item ${note.name.slice(5).replace(/^0+(?=\d)/, '')}`,
        from: 'human',
        to: 'w3',
        state: 'queued',
      });
      expect(text.endsWith(`---\n${note.body}`), note.name).toBe(true);
    }
    const log = await events(env.root);
    expect(log.filter((e) => e.type === 'task.unreadable')).toEqual([]);

    const mem = await memoryMb(pid);
    console.log(
      `scale: ${TASKS} tasks routed in ${routeMs} ms, ${DROPS} dropped notes completed in ${completeMs} ms; ` +
        `daemon peak RSS ${mem.peak} MB (VmHWM; ${afterRouting.peak} MB after routing), RSS now ${mem.now} MB`,
    );
    // Not a timing figure: a daemon holding 2,000 small tasks has no business near half a gigabyte.
    expect(mem.peak).toBeLessThan(500);
  }, 600_000);
});
