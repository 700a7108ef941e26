// `mailroom demo`: the quick start. Creates a local mailroom (default ./.mailroom-demo) on first run
// and walks one task through its life with the same operations the CLI verbs use.

import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { openMailroom } from '../../src/mailroom.js';
import { progress, transition } from '../../src/ops/lifecycle.js';
import { listTasks } from '../../src/ops/list.js';
import { sendTask } from '../../src/ops/send.js';
import { addAgent, initMailroom } from '../../src/ops/setup.js';
import { CONFIG_FILE } from '../../src/store/layout.js';
import { println, table } from '../output.js';

export async function demo(opts: { root?: string }): Promise<void> {
  const root = resolve(opts.root ?? '.mailroom-demo');
  const rel = relative(process.cwd(), root) || '.';
  if (!existsSync(join(root, CONFIG_FILE))) {
    await initMailroom(root);
    println(`created a local mailroom in ${rel}/ (agents: dispatch, human)`);
  }
  let mr = await openMailroom(root);
  if (!('research' in mr.config.agents)) {
    await addAgent(mr, 'research', { role: 'research' });
    mr = await openMailroom(root);
    println('added agent research');
  }
  const { id, path } = await sendTask(mr, {
    from: 'dispatch',
    to: 'research',
    title: 'Summarise five articles on inbox sync',
    body: 'Read the five linked articles and summarise each in three sentences.',
  });
  println(`dispatch  -> send      ${id} into ${relative(root, path)}`);
  await transition(mr, id, 'acked');
  println(`research  -> ack       ${id}   (the worker has it)`);
  await transition(mr, id, 'running');
  println(`research  -> start     ${id}`);
  for (const note of ['article 2/5', 'article 5/5']) {
    await progress(mr, id, note);
    println(`research  -> progress  ${id}   "${note}"`);
  }
  const done = await transition(mr, id, 'done', { result: 'Five summaries: ...' });
  println(`research  -> done      ${id}   moved to ${relative(root, done.after.path)}`);
  println('');
  const { tasks } = await listTasks(mr, {});
  println(
    table([
      ['ID', 'STATE', 'AGENT', 'BOX', 'TITLE'],
      ...tasks.map((t) => [t.id, t.state, t.agent, t.box, t.title]),
    ]),
  );
  println('');
  println(`the task file: ${relative(process.cwd(), done.after.path)}`);
  const bin = relative(process.cwd(), process.argv[1] ?? 'mailroom');
  println(`try: node ${bin} --root ${rel} show ${id.slice(0, 17)}`);
}
