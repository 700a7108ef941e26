// Who may talk to the board (docs/spec.md §4, `mailroom board`; rule: local web pages bind to
// loopback with a token). Pure: a request's method, path and headers in, a verdict out.
//
// - The token is the first path segment (`/<token>/...`): every URL the page uses carries it, relative
//   links keep it, and it never rides in a header a proxy or log might keep apart from the URL.
// - `Host` must name the loopback address and the board's port: a page from another site that made
//   its own name resolve to 127.0.0.1 (DNS rebinding) sends its own name and is refused.
// - A cross-site `Origin` is refused on every request; a POST must carry a same-origin `Origin` (or
//   `Sec-Fetch-Site: same-origin`) and a JSON body, which no plain HTML form can send.

import { timingSafeEqual } from 'node:crypto';

export interface GateRequest {
  method: string;
  /** The request target as sent (path and query). */
  url: string;
  host?: string;
  origin?: string;
  secFetchSite?: string;
  contentType?: string;
}

export type Verdict =
  | { ok: true; path: string; query: URLSearchParams }
  | { ok: true; redirect: string }
  | { ok: false; status: number; reason: string };

const refuse = (status: number, reason: string): Verdict => ({ ok: false, status, reason });

export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function checkRequest(req: GateRequest, board: { token: string; port: number }): Verdict {
  const hosts = allowedHosts(board.port);
  if (!req.host || !hosts.includes(req.host.toLowerCase()))
    return refuse(421, `the board answers only to ${hosts.join(' or ')}`);
  const origins = hosts.map((h) => `http://${h}`);
  if (req.origin !== undefined && !origins.includes(req.origin.toLowerCase()))
    return refuse(403, 'cross-site request refused');
  if (req.method === 'POST') {
    const sameOrigin = req.origin !== undefined || req.secFetchSite === 'same-origin';
    if (!sameOrigin) return refuse(403, 'a change must come from the board page itself');
    if (!/^application\/json\b/i.test(req.contentType ?? ''))
      return refuse(415, 'a change is sent as application/json');
  } else if (req.method !== 'GET' && req.method !== 'HEAD') {
    return refuse(405, 'only GET and POST');
  }
  let url: URL;
  try {
    url = new URL(req.url, 'http://board.invalid');
  } catch {
    return refuse(400, 'bad request target');
  }
  const [, first = '', ...rest] = url.pathname.split('/');
  if (!sameToken(first, board.token))
    return refuse(403, 'missing or wrong token: open the URL the board printed');
  if (rest.length === 0) return { ok: true, redirect: `/${board.token}/` };
  return { ok: true, path: `/${rest.join('/')}`, query: url.searchParams };
}
