// Issue #12: a task escalated to the person (`escalate_to`, here `human`) that they finish by editing
// the file in their own inbox is routed like any finished task (docs/supervisor.md, "A task the
// person finishes"): to their outbox, then to the sender's inbox. It used to stay in their inbox
// forever. The daemon's own pass over real folders, with the real escalate op.

import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PassState, runPass } from '../../daemon/pass.js';
import { ReportBook } from '../../daemon/reports.js';
import { openMailroom } from '../../src/mailroom.js';
import { escalate, transition } from '../../src/ops/lifecycle.js';
import { sendTask } from '../../src/ops/send.js';
import { parseTask } from '../../src/task/parse.js';
import { newMailroom } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research']);
});
afterAll(async () => env.cleanup());

/** An escalated running task in human's inbox, and the daemon's memory of it. */
async function escalatedTask(title: string) {
  const mr = await openMailroom(env.root);
  const { id } = await sendTask(mr, { to: 'research', title, from: 'dispatch' });
  await transition(mr, id, 'running');
  const e = await escalate(mr, id, 'no progress for 31m (run_timeout 30m)');
  expect(e.after.path).toBe(join(env.root, `agents/human/inbox/${id}.md`));
  const state: PassState = { reports: new ReportBook(mr), known: new Map() };
  await runPass(mr, state);
  return { mr, id, state, path: e.after.path };
}

const boxOf = async (id: string) => {
  const found: string[] = [];
  for (const agent of ['dispatch', 'human', 'research'])
    for (const box of ['inbox', 'outbox', 'archive'])
      if ((await readdir(join(env.root, 'agents', agent, box))).includes(`${id}.md`))
        found.push(`${agent}/${box}`);
  return found;
};

describe('a task the escalation agent finishes by editing it in their inbox', () => {
  it('human-finished task marked done by hand-edit is routed to the sender (was: stayed in agents/human/inbox forever)', async () => {
    const { mr, id, state, path } = await escalatedTask('finish me by hand');
    await writeFile(path, (await readFile(path, 'utf8')).replace(/^state: running$/m, 'state: done'));
    const out = await runPass(mr, state);
    expect(out.problems).toEqual([]);
    expect(await boxOf(id)).toEqual(['dispatch/inbox']);
    const t = parseTask(await readFile(join(env.root, `agents/dispatch/inbox/${id}.md`), 'utf8'));
    expect(t.ok && t.value.task.state).toBe('done');
  });

  it('human-finished task marked failed by hand-edit goes back to the sender too, and is not escalated again', async () => {
    const { mr, id, state, path } = await escalatedTask('fail me by hand');
    await writeFile(path, (await readFile(path, 'utf8')).replace(/^state: running$/m, 'state: failed'));
    const out = await runPass(mr, state);
    expect(out.problems).toEqual([]);
    expect(await boxOf(id)).toEqual(['dispatch/inbox']);
    const again = await runPass(mr, state);
    expect(again.tasks.find((t) => t.id === id)?.task.state).toBe('failed');
    expect(await boxOf(id)).toEqual(['dispatch/inbox']);
  });

  it('a task escalated because it failed stays with the person (they retry, reassign or archive it)', async () => {
    const mr = await openMailroom(env.root);
    const { id } = await sendTask(mr, { to: 'research', title: 'failed already', from: 'dispatch' });
    await transition(mr, id, 'failed');
    await escalate(mr, id, 'failed and not retryable: failed');
    const state: PassState = { reports: new ReportBook(mr), known: new Map() };
    await runPass(mr, state);
    await runPass(mr, state);
    expect(await boxOf(id)).toEqual(['human/inbox']);
  });
});
