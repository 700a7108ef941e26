// `mailroom demo`: a scripted tour in about half a minute. It (re)creates a local mailroom in
// ./.mailroom-demo, starts the real daemon in this process, and plays the agents with the same
// operations the CLI verbs use: a task goes dispatch -> research -> dispatch, a retryable failure is
// retried by the supervisor, and a task nobody acknowledges is escalated to the human.

import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { runDaemon } from '../../daemon/run.js';
import { refused } from '../../src/errors.js';
import { type Mailroom, openMailroom } from '../../src/mailroom.js';
import { progress, transition } from '../../src/ops/lifecycle.js';
import { sendTask } from '../../src/ops/send.js';
import { addAgent, initMailroom } from '../../src/ops/setup.js';
import { statusReport } from '../../src/ops/status.js';
import { CONFIG_FILE } from '../../src/store/layout.js';
import { println } from '../output.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until a task file shows up in a box (the daemon works in the background). */
async function arrives(
  mr: Mailroom,
  agent: string,
  id: string,
  box: 'inbox' | 'outbox' = 'inbox',
): Promise<void> {
  const path = mr.layout.taskPath(agent, box, id);
  const deadline = Date.now() + 30_000;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`demo: task ${id} did not reach ${agent}/${box} in 30 s`);
    await sleep(50);
  }
}

/** Written into every demo mailroom: only a folder carrying it is ever deleted by the next run. */
const DEMO_MARK = '.mailroom/demo';

/** An empty or missing folder is fine, a previous demo is removed, anything else is refused. */
async function clearPreviousDemo(root: string, rel: string): Promise<void> {
  const st = await lstat(root).catch(() => undefined);
  if (st === undefined) return;
  const entries = st.isDirectory() ? await readdir(root) : [];
  if (st.isDirectory() && entries.length === 0) return;
  if (st.isDirectory() && (await lstat(join(root, DEMO_MARK)).catch(() => undefined))?.isFile()) {
    await rm(root, { recursive: true, force: true });
    return;
  }
  const what = existsSync(join(root, CONFIG_FILE)) ? 'a mailroom that the demo did not make' : 'other files';
  throw refused(
    `${rel} holds ${what}; the demo recreates its folder, so it will not touch this one`,
    'give the demo an empty or new folder: mailroom demo --root ./.mailroom-demo-2',
  );
}

export async function demo(opts: { root?: string }): Promise<void> {
  const root = resolve(opts.root ?? '.mailroom-demo');
  const rel = relative(process.cwd(), root) || '.';
  const mr = await makeDemoMailroom(root, rel);
  println(`a fresh local mailroom in ${rel}/ with agents dispatch, human, research and legacy\n`);

  const controller = new AbortController();
  const daemon = runDaemon(await openMailroom(root), {
    signal: controller.signal,
    rescanMs: 1000,
    say: (line) => println(`   daemon: ${line}`),
  });
  await sleep(300);
  try {
    await roundTrip(mr);
    await retried(mr);
    await escalated(mr, root);
    await showStatus(mr);
  } finally {
    controller.abort();
    await daemon;
  }
  println(
    `\nlook around: node ${relative(process.cwd(), process.argv[1] ?? 'mailroom')} --root ${rel} status   (and ls, show, log)`,
  );
}

/** A new demo mailroom at `root`, with its agents, short timings and a notify command that prints. */
async function makeDemoMailroom(root: string, rel: string): Promise<Mailroom> {
  await clearPreviousDemo(root, rel);
  await initMailroom(root);
  await writeFile(join(root, DEMO_MARK), 'this mailroom was made by `mailroom demo`, which recreates it\n');
  const mr = await openMailroom(root);
  await addAgent(mr, 'research', { role: 'research' });
  await addAgent(mr, 'legacy', {});
  // Short timings so the tour takes seconds, and a notify command that prints to this terminal.
  const config = (await readFile(mr.layout.configPath, 'utf8')).replace(
    'retry_backoff: 1m',
    'retry_backoff: 2s',
  );
  await writeFile(
    mr.layout.configPath,
    config.replace(
      /^# notify: .*$/m,
      `notify: 'echo "$MAILROOM_ID $MAILROOM_TITLE: $MAILROOM_REASON" >> notifications.log'`,
    ),
  );
  return openMailroom(root);
}

async function roundTrip(mr: Mailroom): Promise<void> {
  println('1. dispatch -> research -> dispatch');
  const a = await sendTask(mr, {
    from: 'dispatch',
    to: 'research',
    title: 'Summarise five articles on inbox sync',
  });
  println(`   dispatch sends ${a.id} to research`);
  await transition(mr, a.id, 'acked');
  await transition(mr, a.id, 'running');
  await progress(mr, a.id, 'article 3/5');
  println('   research acks, starts, reports "article 3/5", then finishes with a result');
  await transition(mr, a.id, 'done', { result: 'Five summaries: ...' });
  await arrives(mr, 'dispatch', a.id);
  println(`   the result is back in agents/dispatch/inbox/${a.id}.md\n`);
}

async function retried(mr: Mailroom): Promise<void> {
  println('2. a retryable failure is retried by the supervisor');
  const b = await sendTask(mr, {
    from: 'dispatch',
    to: 'research',
    title: 'Fetch the price list',
    maxAttempts: 3,
  });
  await transition(mr, b.id, 'running');
  await transition(mr, b.id, 'failed', {
    error: { message: 'HTTP 429 from the price API', retryable: true, tried: 'one request' },
  });
  println(`   research fails ${b.id}: HTTP 429, retryable (retry_backoff is 2s in this demo)`);
  await arrives(mr, 'research', b.id);
  println("   the task is back in research's inbox as attempt 2; this time it works");
  await transition(mr, b.id, 'running');
  await transition(mr, b.id, 'done', { result: 'Prices attached.' });
  await arrives(mr, 'dispatch', b.id);
  println('   and its result is routed back to dispatch\n');
}

async function escalated(mr: Mailroom, root: string): Promise<void> {
  println('3. nobody acknowledges: escalated to the human');
  const c = await sendTask(mr, {
    from: 'dispatch',
    to: 'legacy',
    title: 'Call the legacy billing API',
    ackTimeout: '3s',
  });
  println(`   dispatch sends ${c.id} to legacy (ack_timeout 3s); legacy is down and has no role mate`);
  await arrives(mr, 'human', c.id);
  println(`   escalated: agents/human/inbox/${c.id}.md`);
  const log = join(root, 'notifications.log');
  for (let i = 0; i < 100 && !existsSync(log); i++) await sleep(50); // notify runs right after the move
  const notified = existsSync(log) ? (await readFile(log, 'utf8')).trim() : '(notify did not run)';
  println(`   the notify command ran, with the task's fields as environment variables: ${notified}\n`);
}

async function showStatus(mr: Mailroom): Promise<void> {
  const s = await statusReport(mr);
  println('where things are now (`mailroom status`):');
  for (const agent of s.agents) {
    const counts = Object.entries(agent.counts)
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${n} ${state}`);
    println(`   ${agent.name.padEnd(9)} ${counts.join(', ') || '-'}`);
  }
  println(`   escalated: ${s.escalated.map((e) => e.id).join(', ')}`);
}
