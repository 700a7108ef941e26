// `mailroom mcp` spoken to by the official SDK's own client over stdio, as Claude Code or Codex would:
// the tools are listed, a task is worked through next/start/progress/done, and a subscription to the
// inbox brings an update notification when another process sends a task. The server keeps an ls
// cache in memory: what another process changes must show on the next call.

import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { BIN, newMailroom, requireBuild } from '../support/cli.js';
import { pollUntil } from '../support/poll.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
let client: Client;
const updates: string[] = [];

beforeAll(async () => {
  requireBuild();
  env = await newMailroom(['research']);
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('MAILROOM_')) childEnv[k] = v;
  client = new Client({ name: 'mailroom-test', version: '1.0.0' });
  client.setNotificationHandler('notifications/resources/updated', (n) => {
    updates.push(n.params.uri);
  });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', '--as', 'research', '--root', env.root],
      env: childEnv,
      stderr: 'pipe',
    }),
  );
});
afterAll(async () => {
  await client?.close();
  await env?.cleanup();
});

/** A tool's JSON answer. */
async function call(name: string, args: Record<string, unknown> = {}) {
  const r = await client.callTool({ name, arguments: args });
  const content = r.content as { type: string; text: string }[];
  if (r.isError) throw new Error(content[0]?.text);
  return JSON.parse(content[0]!.text);
}

describe('mailroom mcp over stdio with the SDK client', () => {
  it('lists the tools, each described for a model', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    expect(names).toEqual(
      [
        'ack',
        'answer',
        'ask',
        'done',
        'fail',
        'list',
        'next',
        'progress',
        'send',
        'show',
        'start',
        'status',
        'wait',
      ].sort(),
    );
    for (const t of tools) expect(t.description?.length ?? 0).toBeGreaterThan(40);
    expect(tools.find((t) => t.name === 'next')?.description).toMatch(/^Start here/);
  });

  it('works a task through next, start, progress and done', async () => {
    const sent = await env.mr([
      'send',
      'research',
      'Summarise five articles',
      '--body',
      'Read them.',
      '--as',
      'dispatch',
    ]);
    const id = sent.stdout.trim();
    const { task } = await call('next');
    expect(task).toMatchObject({ id, state: 'acked', from: 'dispatch', request: 'Read them.' });
    expect(await call('start', { id })).toMatchObject({ state: 'running' });
    expect(await call('progress', { id, note: 'page 42/100' })).toMatchObject({ state: 'running' });
    expect(await call('done', { id, result: 'Five summaries.' })).toMatchObject({ state: 'done' });
    const parsed = parseTask(await readFile(join(env.root, `agents/research/outbox/${id}.md`), 'utf8'));
    if (!parsed.ok) throw new Error(parsed.problem.reason);
    expect(parsed.value.task.history.map((h) => [h.state, h.by])).toEqual([
      ['queued', 'dispatch'],
      ['acked', 'research'],
      ['running', 'research'],
      ['running', 'research'],
      ['done', 'research'],
    ]);
    expect((await call('show', { id })).result).toBe('Five summaries.');
    expect((await call('next')).task).toBeNull();
  });

  it('an error says what and how to fix it, as a tool error (not a protocol failure)', async () => {
    const r = await client.callTool({ name: 'start', arguments: { id: 'nosuchtask' } });
    expect(r.isError).toBe(true);
    expect((r.content as { text: string }[])[0]!.text).toMatch(/notFound \(exit 2\): no task nosuchtask/);
  });

  it('sends a resource update notification when another process sends a task', async () => {
    await client.subscribeResource({ uri: 'mailroom://inbox/research' });
    const sent = await env.mr(['send', 'research', 'Another one', '--as', 'dispatch']);
    expect(sent.code).toBe(0);
    await pollUntil(
      'the inbox update notification',
      () => updates.includes('mailroom://inbox/research'),
      20_000,
    );
    const read = await client.readResource({ uri: 'mailroom://inbox/research' });
    const text = (read.contents[0] as { text: string }).text;
    expect(JSON.parse(text).map((t: { id: string }) => t.id)).toContain(sent.stdout.trim());
  });

  it('wait returns what arrived, and "nothing yet" when the time is up', async () => {
    await call('wait', { timeout_seconds: 0 }); // take in what is there
    expect(await call('wait', { timeout_seconds: 0.3 })).toMatchObject({
      changes: [],
      status: expect.stringMatching(/^nothing yet/),
    });
    const pending = call('wait', { timeout_seconds: 30 });
    const sent = await env.mr(['send', 'research', 'While waiting', '--as', 'dispatch']);
    const { changes } = await pending;
    expect(changes.map((c: { id: string }) => c.id)).toEqual([sent.stdout.trim()]);
  });
  it('list answers at most limit tasks (50 by default), in working order, with the total', async () => {
    const sent = await env.mr(['send', 'research', 'Template', '--as', 'dispatch', '--priority', 'low']);
    const template = await readFile(join(env.root, `agents/research/inbox/${sent.stdout.trim()}.md`), 'utf8');
    const ids = Array.from({ length: 60 }, (_, i) => `20260101-000000-l${String(i).padStart(3, '0')}`);
    for (const id of ids)
      await writeFile(
        join(env.root, `agents/research/inbox/${id}.md`),
        template.replace(sent.stdout.trim(), id),
      );
    const all = await call('list', { limit: 10_000 });
    expect(all.total).toBeGreaterThanOrEqual(61);
    expect(all.tasks).toHaveLength(all.total);
    const first = await call('list');
    expect(first.total).toBe(all.total);
    expect(first.tasks.map((t: { id: string }) => t.id)).toEqual(
      all.tasks.slice(0, 50).map((t: { id: string }) => t.id),
    );
    expect((await call('list', { limit: 3 })).tasks).toHaveLength(3);
    // Removed, so the tests after this one start from the queue they expect.
    for (const id of [...ids, sent.stdout.trim()]) await rm(join(env.root, `agents/research/inbox/${id}.md`));
  });

  it('list shows at once what another process changed since the last call (the in-memory ls cache)', async () => {
    while ((await call('next')).task !== null); // claim what earlier tests left queued
    const sent = await env.mr(['send', 'research', 'Cache me', '--as', 'dispatch']);
    const id = sent.stdout.trim();
    const path = join(env.root, `agents/research/inbox/${id}.md`);
    const stateOf = async () => {
      const { tasks } = await call('list', { box: 'inbox' });
      return tasks.find((t: { id: string }) => t.id === id) as { state: string; title: string } | undefined;
    };
    expect((await call('next')).task).toMatchObject({ id, state: 'acked' });
    expect(await stateOf()).toMatchObject({ state: 'acked' });
    // Changed by another process just after this one wrote it (the server remembers the text it wrote).
    expect((await env.mr(['start', id, '--as', 'research'])).code).toBe(0);
    expect(await stateOf()).toMatchObject({ state: 'running' });
    // Listed once the file is past the racy window, so the server trusts it by its stamp...
    await pollUntil(
      'the task file to be 2 s old (before that the cache re-reads it anyway)',
      async () => Date.now() - (await stat(path)).ctimeMs > 2500,
      15_000,
      100,
    );
    expect(await stateOf()).toMatchObject({ state: 'running', title: 'Cache me' });
    // ...then edited in place by another writer: the same size, the mtime put back. The ctime tells.
    const before = await stat(path);
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.replace('title: Cache me', 'title: CACHE ME'));
    await utimes(path, before.atime, before.mtime);
    expect((await stat(path)).size).toBe(before.size);
    expect(await stateOf()).toMatchObject({ state: 'running', title: 'CACHE ME' });
  });
  it('wait reports a task edited in place after an earlier look (the server parses again what changed)', async () => {
    const sent = await env.mr(['send', 'research', 'Edit me', '--as', 'dispatch']);
    const id = sent.stdout.trim();
    const seen = await call('wait', { timeout_seconds: 0 }); // looked at, and parsed, once
    expect(seen.changes.map((c: { id: string }) => c.id)).toContain(id);
    const path = join(env.root, `agents/research/inbox/${id}.md`);
    const text = await readFile(path, 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('  - {'))!;
    // A person adds a line to its history by hand, in place (the same file, no rename).
    await writeFile(
      path,
      text.replace(line, `${line}\n${line.replace('by: dispatch', 'by: dispatch, note: more')}`),
    );
    const { changes } = await call('wait', { timeout_seconds: 30 });
    expect(changes).toEqual([expect.objectContaining({ id, change: 'changed' })]);
  });
});
