// The board's door (board/gate.ts), case by case: token, Host (DNS rebinding), Origin, and what a POST
// must carry. Pure; the same refusals are tried against the real process in server.test.ts.

import { describe, expect, it } from 'vitest';
import { checkRequest, type GateRequest } from '../../board/gate.js';

const board = { token: 'T0KEN-abc_123', port: 4321 };
const base: GateRequest = { method: 'GET', url: '/T0KEN-abc_123/api/board', host: '127.0.0.1:4321' };

const cases: { what: string; req: Partial<GateRequest>; status?: number }[] = [
  { what: 'the token, loopback host', req: {} },
  { what: 'localhost is loopback too', req: { host: 'localhost:4321' } },
  { what: 'no token', req: { url: '/api/board' }, status: 403 },
  { what: 'a wrong token of the same length', req: { url: '/T0KEN-abc_124/api/board' }, status: 403 },
  { what: 'the token as a query, not the path', req: { url: '/api/board?token=T0KEN-abc_123' }, status: 403 },
  { what: 'a foreign Host (DNS rebinding)', req: { host: 'evil.example:4321' }, status: 421 },
  { what: 'the right host on another port', req: { host: '127.0.0.1:80' }, status: 421 },
  { what: 'no Host at all', req: { host: undefined }, status: 421 },
  { what: 'a cross-site Origin on a read', req: { origin: 'http://evil.example' }, status: 403 },
  { what: 'Origin null (a sandboxed frame)', req: { origin: 'null' }, status: 403 },
  { what: 'a same-origin read', req: { origin: 'http://127.0.0.1:4321' } },
  {
    what: 'a same-origin JSON POST',
    req: { method: 'POST', origin: 'http://127.0.0.1:4321', contentType: 'application/json' },
  },
  {
    what: 'a POST without Origin (not from the page)',
    req: { method: 'POST', contentType: 'application/json' },
    status: 403,
  },
  {
    what: 'a POST marked same-origin by Sec-Fetch-Site',
    req: { method: 'POST', secFetchSite: 'same-origin', contentType: 'application/json' },
  },
  {
    what: 'a cross-site POST',
    req: { method: 'POST', origin: 'http://evil.example', contentType: 'application/json' },
    status: 403,
  },
  {
    what: 'a form POST (no JSON)',
    req: {
      method: 'POST',
      origin: 'http://127.0.0.1:4321',
      contentType: 'application/x-www-form-urlencoded',
    },
    status: 415,
  },
  { what: 'another method', req: { method: 'DELETE' }, status: 405 },
];

describe('board gate', () => {
  for (const c of cases) {
    it(c.what, () => {
      const req = { ...base, ...c.req };
      if ('host' in c.req && c.req.host === undefined) delete req.host;
      const v = checkRequest(req, board);
      if (c.status === undefined) expect(v).toMatchObject({ ok: true, path: '/api/board' });
      else expect(v).toMatchObject({ ok: false, status: c.status });
    });
  }

  it('the bare token redirects to the page', () => {
    expect(checkRequest({ ...base, url: '/T0KEN-abc_123' }, board)).toEqual({
      ok: true,
      redirect: '/T0KEN-abc_123/',
    });
  });
});
