// `mailroom board` (docs/spec.md §4 and §7): a local web page for the people supervising a mailroom,
// served by its own process with node:http, never from inside the daemon's pass. It binds to
// 127.0.0.1 only, and every request passes board/gate.ts (token, Host, Origin) first.
//
// Routes, under /<token>/:
//   GET  /                 the page (static HTML, CSS and JS from board/page/; no build step)
//   GET  /api/board        the snapshot: needs you, agents, counts, hosts, daemon
//   GET  /api/tasks        tasks by state, ?agent= &q= &limit=
//   GET  /api/task/<id>    one task (the task view)
//   GET  /api/live         server-sent events: `change` with the snapshot's version
//   POST /api/action       {op, ...}: answer, retry, reassign, archive, note, send (board/actions.ts)

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { MailroomError } from '../src/errors.js';
import type { Mailroom } from '../src/mailroom.js';
import { packageRoot } from '../src/package-root.js';
import { MAX_TEXT, runAction } from './actions.js';
import { checkRequest } from './gate.js';
import { LiveFeed } from './live.js';
import { BoardModel } from './model.js';
import { taskView } from './task-view.js';

export interface BoardOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** The agent the board acts as (history `by`, the sender of new tasks). */
  as: string;
  polling?: boolean;
}

export interface Board {
  url: string;
  port: number;
  token: string;
  model: BoardModel;
  close(): Promise<void>;
}

const PAGE_FILES: Record<string, string> = {
  '/': 'index.html',
  '/board.js': 'board.js',
  '/markdown.js': 'markdown.js',
  '/board.css': 'board.css',
};
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/** Nothing but the board's own files runs or loads; no frames; untrusted text never becomes markup. */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};

const MAX_BODY = MAX_TEXT * 4;

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown) =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

const HTTP_STATUS: Record<string, number> = { usage: 400, notFound: 404, refused: 409, network: 502 };

function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof MailroomError)
    sendJson(res, HTTP_STATUS[err.kind] ?? 400, { error: err.message, hint: err.hint ?? null });
  else sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new MailroomError('usage', 'the request is too large');
    chunks.push(chunk as Buffer);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new MailroomError('usage', 'the request body must be a JSON object');
}

function loadPage(): Map<string, { type: string; body: Buffer }> {
  const dir = join(packageRoot(), 'board', 'page');
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const [route, name] of Object.entries(PAGE_FILES)) {
    const ext = name.slice(name.lastIndexOf('.') + 1);
    files.set(route, { type: TYPES[ext]!, body: readFileSync(join(dir, name)) });
  }
  return files;
}

export async function startBoard(mr: Mailroom, opts: BoardOptions): Promise<Board> {
  const token = randomBytes(24).toString('base64url');
  const page = loadPage();
  const model = new BoardModel(mr, opts.as);
  const live = new LiveFeed(model);
  let port = 0;

  const route = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => {
    const file = req.method === 'GET' ? page.get(path) : undefined;
    if (file) return send(res, 200, file.type, file.body);
    if (req.method === 'POST' && path === '/api/action') {
      const id = await runAction(model.mr, opts.as, await readJsonBody(req));
      live.poke();
      return sendJson(res, 200, { ok: true, id });
    }
    if (req.method !== 'GET') return sendJson(res, 404, { error: 'no such action' });
    if (path === '/api/board') return sendJson(res, 200, await model.snapshot());
    if (path === '/api/tasks') {
      const limit = Math.min(Math.max(Number(query.get('limit') ?? 50) || 50, 1), 500);
      const q = { limit, agent: query.get('agent') ?? '', text: query.get('q') ?? '' };
      return sendJson(res, 200, await model.tasks(q));
    }
    if (path.startsWith('/api/task/'))
      return sendJson(res, 200, await taskView(model.mr, decodeURIComponent(path.slice(10))));
    if (path === '/api/live') return live.attach(req, res);
    sendJson(res, 404, { error: 'not found' });
  };

  const server = createServer((req, res) => {
    const verdict = checkRequest(
      {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        ...(req.headers.host === undefined ? {} : { host: req.headers.host }),
        ...(req.headers.origin === undefined ? {} : { origin: req.headers.origin }),
        ...(typeof req.headers['sec-fetch-site'] === 'string'
          ? { secFetchSite: req.headers['sec-fetch-site'] }
          : {}),
        ...(req.headers['content-type'] === undefined ? {} : { contentType: req.headers['content-type'] }),
      },
      { token, port },
    );
    if (!verdict.ok) return send(res, verdict.status, 'text/plain; charset=utf-8', `${verdict.reason}\n`);
    if ('redirect' in verdict) {
      res.writeHead(308, { ...SECURITY_HEADERS, Location: verdict.redirect });
      return res.end();
    }
    route(req, res, verdict.path, verdict.query).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, err);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  await live.start(opts.polling === true);
  return {
    url: `http://127.0.0.1:${port}/${token}/`,
    port,
    token,
    model,
    close: async () => {
      await live.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
