import { existsSync } from 'node:fs';
import { open, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { newMailroom, runCli } from '../support/cli.js';
import { box, type DaemonHandle, events, locations, startDaemon } from '../support/daemon.js';
import { pollUntil } from '../support/poll.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
let daemon: DaemonHandle | undefined;
beforeEach(async () => {
  env = await newMailroom(['research']);
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await env.cleanup();
});

const read = (rel: string) => readFile(join(env.root, rel), 'utf8');
const taskIn = async (rel: string) => {
  const r = parseTask(await read(rel));
  if (!r.ok) throw new Error(r.problem.reason);
  return r.value.task;
};

describe('the daemon routes and completes', () => {
  it('routes a finished task from the worker outbox to the sender inbox, exactly once', async () => {
    daemon = await startDaemon(env.root);
    const id = (await env.mr(['send', 'research', 'route me', '--as', 'dispatch'])).stdout.trim();
    expect((await env.mr(['done', id, '--result', 'ok'])).code).toBe(0);
    // A move is link-then-unlink: for an instant the same file is in both boxes; wait for it to finish.
    await pollUntil(
      'routing to finish',
      async () => {
        const where = (await locations(env.root)).get(id);
        return where?.length === 1 && where[0] === 'dispatch/inbox';
      },
      10_000,
    );
    await pollUntil(
      'the routed event',
      async () => (await events(env.root)).some((e) => e.type === 'task.routed' && e.id === id),
      10_000,
    );
    expect((await events(env.root)).filter((e) => e.type === 'task.routed' && e.id === id)).toHaveLength(1);
  });

  it('moves a task finished by a plain file edit from the inbox to the outbox, then routes it', async () => {
    daemon = await startDaemon(env.root);
    const id = (await env.mr(['send', 'research', 'edit me', '--as', 'dispatch'])).stdout.trim();
    const path = join(env.root, `agents/research/inbox/${id}.md`);
    const text = await readFile(path, 'utf8');
    await writeFile(path, `${text.replace('state: queued', 'state: done')}\n## Result\n\nDone by hand.\n`);
    await pollUntil(
      'routing',
      async () => (await box(env.root, 'dispatch', 'inbox')).includes(`${id}.md`),
      10_000,
    );
    expect(await read(`agents/dispatch/inbox/${id}.md`)).toContain('Done by hand.');
  });

  it('completes files people drop into an inbox: body only, title only, and a name that is not an id', async () => {
    daemon = await startDaemon(env.root);
    const inbox = join(env.root, 'agents/research/inbox');
    await writeFile(join(inbox, 'flaky.md'), '# Look at the flaky test\nIt fails on Tuesdays.\n');
    await writeFile(
      join(inbox, 'titled.md'),
      '---\ntitle: Check the logs  # thanks\npriority: urgent\n---\nSee /var/log.\n',
    );
    await writeFile(join(inbox, 'my notes.md'), 'Rename me please\n');
    await pollUntil(
      'completion',
      async () => (await events(env.root)).filter((e) => e.type === 'task.completed').length === 3,
      10_000,
    );
    expect(await taskIn('agents/research/inbox/flaky.md')).toMatchObject({
      id: 'flaky',
      title: 'Look at the flaky test',
      from: 'human',
      to: 'research',
      state: 'queued',
    });
    expect(await read('agents/research/inbox/flaky.md')).toMatch(
      /---\n# Look at the flaky test\nIt fails on Tuesdays\.\n$/,
    );
    expect(await taskIn('agents/research/inbox/titled.md')).toMatchObject({
      title: 'Check the logs',
      priority: 'urgent',
      state: 'queued',
    });
    expect(await read('agents/research/inbox/titled.md')).toContain(
      'title: Check the logs  # thanks\npriority: urgent\n',
    );
    const names = await box(env.root, 'research', 'inbox');
    expect(names).not.toContain('my notes.md');
    const renamed = names.find((n) => /^\d{8}-\d{6}-[0-9a-z]{4}\.md$/.test(n));
    expect(renamed).toBeDefined();
    expect((await taskIn(`agents/research/inbox/${renamed}`)).title).toBe('Rename me please');
  });
});

describe('dropped files written slowly, or stamped by another clock', () => {
  it('a writer that keeps writing after the file was completed loses nothing', async () => {
    daemon = await startDaemon(env.root);
    const path = join(env.root, 'agents/research/inbox/outage.md');
    const handle = await open(path, 'w');
    try {
      await handle.write('# Investigate the outage\nFirst paragraph.\n');
      await pollUntil(
        'completion',
        async () => (await events(env.root)).some((e) => e.type === 'task.completed' && e.id === 'outage'),
        10_000,
      );
      await handle.write('Second paragraph, typed later.\n'); // into the original inode
    } finally {
      await handle.close();
    }
    await pollUntil(
      'the late write in the task',
      async () => (await readFile(path, 'utf8')).includes('Second paragraph, typed later.'),
      10_000,
    );
    const t = await taskIn('agents/research/inbox/outage.md');
    expect(t.title).toBe('Investigate the outage');
    expect(await readFile(path, 'utf8')).toMatch(
      /---\n# Investigate the outage\nFirst paragraph\.\nSecond paragraph, typed later\.\n$/,
    );
  });

  it("a dropped file with an mtime in the future (another machine's clock) is still completed", async () => {
    daemon = await startDaemon(env.root);
    const path = join(env.root, 'agents/research/inbox/future.md');
    await writeFile(path, 'From the future\n');
    const later = new Date(Date.now() + 10 * 60_000);
    await utimes(path, later, later);
    await pollUntil(
      'completion',
      async () => (await events(env.root)).some((e) => e.type === 'task.completed' && e.id === 'future'),
      10_000,
    );
    expect((await taskIn('agents/research/inbox/future.md')).title).toBe('From the future');
  });
});

describe('files that are not tasks', () => {
  it('are reported once per content version with a sidecar, never changed, and the sidecar goes when fixed', async () => {
    daemon = await startDaemon(env.root);
    const path = join(env.root, 'agents/research/inbox/bad.md');
    const bad =
      '---\nid: bad\ntitle: t\nfrom: human\nto: research\nstate: doing\ncreated: 2026-11-22T10:15:00Z\n---\n';
    await writeFile(path, bad);
    const sidecar = `${path}.error.txt`;
    await pollUntil('the sidecar', () => existsSync(sidecar), 10_000);
    expect(await readFile(sidecar, 'utf8')).toMatch(/line 6: state: unknown state "doing"/);
    // Same content written again (a touch): no second report, even across passes.
    const passes = async () => JSON.parse(await read('.mailroom/daemon.json')).passes as number;
    const before = await passes();
    await writeFile(path, bad);
    await pollUntil('two more full passes', async () => (await passes()) >= before + 2, 10_000);
    expect((await events(env.root)).filter((e) => e.type === 'task.unreadable')).toHaveLength(1);
    expect(await readFile(path, 'utf8')).toBe(bad);
    // Another broken version: reported again.
    await writeFile(path, bad.replace('doing', 'wip'));
    await pollUntil(
      'second report',
      async () => (await events(env.root)).filter((e) => e.type === 'task.unreadable').length === 2,
      10_000,
    );
    // Fixed: the sidecar goes, the task is a task.
    await writeFile(path, bad.replace('doing', 'queued'));
    await pollUntil('the sidecar to go', () => !existsSync(sidecar), 10_000);
    // The event is appended just after the sidecar goes: wait for it rather than race it.
    await pollUntil(
      'the readable event',
      async () => (await events(env.root)).some((e) => e.type === 'task.readable'),
      10_000,
    );
  });

  it('reports a hand edit that moves a task backwards, without reverting it', async () => {
    daemon = await startDaemon(env.root);
    const id = (await env.mr(['send', 'research', 'run me'])).stdout.trim();
    expect((await env.mr(['start', id])).code).toBe(0);
    await pollUntil(
      'the daemon to see it running',
      async () => {
        const known = await readFile(join(env.root, '.mailroom/known-states.json'), 'utf8').catch(() => '{}');
        return JSON.parse(known)[id]?.state === 'running';
      },
      10_000,
    );
    const path = join(env.root, `agents/research/inbox/${id}.md`);
    const edited = (await readFile(path, 'utf8')).replace('state: running', 'state: queued');
    await writeFile(path, edited);
    await pollUntil('the report', () => existsSync(`${path}.error.txt`), 10_000);
    expect(await readFile(`${path}.error.txt`, 'utf8')).toMatch(
      /state changed from running to queued by an edit/,
    );
    expect(await readFile(path, 'utf8')).toBe(edited);
  });
});

describe('one daemon per mailroom, clean stops', () => {
  it('refuses a second daemon, stops cleanly on SIGTERM, and restarts at once after SIGKILL', async () => {
    daemon = await startDaemon(env.root);
    const second = await runCli(['daemon', '--root', env.root]);
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(/another mailroom daemon \(pid \d+\) is already running/);
    expect(await daemon.stop()).toBe(0);
    expect(JSON.parse(await read('.mailroom/daemon.json')).state).toBe('stopped');
    daemon = await startDaemon(env.root);
    await daemon.kill();
    daemon = await startDaemon(env.root); // the lock left by the killed one must not block
    expect(daemon.output()).toMatch(/took over the lock of a daemon that is gone \(pid \d+\)/);
  });
});
