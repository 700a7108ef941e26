// Starts the real `mailroom board` as a child process on a test mailroom and reads the URL it prints.

import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { BIN, requireBuild } from './cli.js';
import { pollUntil } from './poll.js';

export interface BoardHandle {
  child: ChildProcess;
  url: string;
  port: number;
  token: string;
  stop: () => Promise<void>;
}

export async function startBoardProcess(root: string, args: string[] = []): Promise<BoardHandle> {
  requireBuild();
  const env = { ...process.env };
  delete env.MAILROOM_ROOT;
  delete env.MAILROOM_AGENT;
  const child = spawn(process.execPath, [BIN, 'board', '--root', root, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await pollUntil(
    'the board to print its URL',
    () => {
      if (child.exitCode !== null) throw new Error(`board exited at start: ${out}`);
      return /mailroom board: (http:\/\/\S+)/.exec(out)?.[1];
    },
    15_000,
  );
  const u = new URL(url);
  return {
    child,
    url,
    port: Number(u.port),
    token: u.pathname.split('/')[1]!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with exactly these headers (fetch would not let a test set Host). */
export function rawRequest(
  port: number,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers ?? {} },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}
