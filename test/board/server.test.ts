// The real `mailroom board` process: what it answers, what it refuses (no token, a foreign Host, a
// cross-site Origin, a POST not from its own page), that it listens on loopback only, and that an
// action changes the task file through the ops (same history, same event log).

import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BoardHandle, rawRequest, startBoardProcess } from '../support/board.js';
import { newMailroom } from '../support/cli.js';
import { events } from '../support/daemon.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
let board: BoardHandle;
beforeAll(async () => {
  env = await newMailroom(['research']);
  board = await startBoardProcess(env.root);
});
afterAll(async () => {
  await board?.stop();
  await env?.cleanup();
});

const host = () => `127.0.0.1:${board.port}`;
const get = (path: string, headers: Record<string, string> = {}) =>
  rawRequest(board.port, { path, headers: { host: host(), ...headers } });
const post = (body: unknown, headers: Record<string, string> = {}) =>
  rawRequest(board.port, {
    method: 'POST',
    path: `/${board.token}/api/action`,
    // An empty value leaves the header out.
    headers: Object.fromEntries(
      Object.entries({
        host: host(),
        origin: `http://${host()}`,
        'content-type': 'application/json',
        ...headers,
      }).filter(([, v]) => v !== ''),
    ),
    body: JSON.stringify(body),
  });

describe('mailroom board (process)', () => {
  it('serves the page and the snapshot with the token, and refuses without it', async () => {
    const page = await get(`/${board.token}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    const snap = await get(`/${board.token}/api/board`);
    expect(JSON.parse(snap.body).agentNames.map((a: { name: string }) => a.name)).toContain('research');
    for (const path of ['/', '/api/board', `/${board.token.slice(0, -1)}x/api/board`]) {
      const r = await get(path);
      expect(r.status, path).toBe(403);
      expect(r.body).not.toMatch(/agentNames/);
    }
  });

  it('refuses a foreign Host (DNS rebinding) even with the token', async () => {
    const r = await get(`/${board.token}/api/board`, { host: `rebind.example:${board.port}` });
    expect(r.status).toBe(421);
  });

  it('refuses a cross-site Origin on reads and on actions', async () => {
    expect((await get(`/${board.token}/api/board`, { origin: 'http://evil.example' })).status).toBe(403);
    const r = await post(
      { op: 'send', to: 'research', title: 'from evil' },
      { origin: 'http://evil.example' },
    );
    expect(r.status).toBe(403);
    expect((await env.mr(['ls', '--json'])).stdout).not.toMatch(/from evil/);
  });

  it('refuses an action without the token, without Origin, or sent as a form', async () => {
    const noToken = await rawRequest(board.port, {
      method: 'POST',
      path: '/api/action',
      headers: { host: host(), origin: `http://${host()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ op: 'send', to: 'research', title: 'no token' }),
    });
    expect(noToken.status).toBe(403);
    expect((await post({ op: 'send', to: 'research', title: 'no origin' }, { origin: '' })).status).toBe(403);
    const form = await post('op=send', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect((await env.mr(['ls', '--json'])).stdout).not.toMatch(/no token|no origin/);
  });

  it('listens on 127.0.0.1 only', async () => {
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i && i.family === 'IPv4' && !i.internal)
      .map((i) => i!.address);
    for (const address of others) {
      const outcome = await new Promise<string>((resolve) => {
        const s = connect({ host: address, port: board.port });
        s.once('connect', () => {
          s.destroy();
          resolve('connected');
        });
        s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      });
      expect(outcome, address).toBe('ECONNREFUSED');
    }
  });

  it('an action goes through the ops: the file, its history and the event log change', async () => {
    const sent = await post({ op: 'send', to: 'research', title: 'sent from the board', body: 'hi' });
    expect(sent.status, sent.body).toBe(200);
    const { id } = JSON.parse(sent.body) as { id: string };
    const noted = await post({ op: 'note', id, text: 'checked by a person' });
    expect(noted.status, noted.body).toBe(200);
    const text = await readFile(`${env.root}/agents/research/inbox/${id}.md`, 'utf8');
    expect(text).toMatch(/from: human/);
    expect(text).toMatch(/note: checked by a person/);
    const types = (await events(env.root)).filter((e) => e.id === id).map((e) => e.type);
    expect(types).toEqual(['task.created', 'task.note']);
    // A refused move is an error a person can read, and nothing changes.
    const bad = await post({ op: 'retry', id });
    expect(bad.status).toBe(409);
    expect(JSON.parse(bad.body).error).toMatch(/only a failed task can be retried/);
  });
});
