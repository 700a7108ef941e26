// Regenerates docs/board.png: the board on a realistic mailroom, every part of it real. Five agents
// (dispatch, human, research and research2 on host `vps`, coder on host `gpu`); `vps` is a private
// OpenSSH sshd on loopback with throw-away keys (test/support/sshd-core.ts), reached over SFTP;
// `gpu` is configured but down, so its row shows the error. A real daemon routes, supervises and
// syncs; one failed task is escalated by it, and research asks human a question.
//
//   npm run build && node dist/bench/board-screenshot.js [out.png]   (needs sshd and chromium)

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchChromium } from '../test/support/chromium-core.js';
import { freePort, startSshd } from '../test/support/sshd-core.js';
import { CLI, nodeEnv } from './mailroom-cli.js';
import { mustRun, pollUntil } from './measure.js';

const out = resolve(process.argv[2] ?? 'docs/board.png');

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-shot-'));
  const sshd = await startSshd();
  const children: ReturnType<typeof spawn>[] = [];
  try {
    const root = join(dir, 'mailroom');
    const far = join(dir, 'vps-mailroom');
    await mkdir(far);
    const mr = async (...args: string[]) =>
      (await mustRun(process.execPath, [CLI, ...args, '--root', root], { env: nodeEnv() })).stdout.trim();
    await mustRun(process.execPath, [CLI, 'init', root], { env: nodeEnv() });
    const ssh = ['--identity', sshd.clientKeyPath, '--known-hosts', sshd.knownHostsPath];
    await mustRun(
      process.execPath,
      [
        CLI,
        '--root',
        root,
        'host',
        'add',
        'vps',
        `${sshd.user}@127.0.0.1:${sshd.port}`,
        '--root',
        far,
        ...ssh,
      ],
      { env: nodeEnv() },
    );
    const closed = await freePort();
    await mustRun(
      process.execPath,
      [
        CLI,
        '--root',
        root,
        'host',
        'add',
        'gpu',
        `${sshd.user}@127.0.0.1:${closed}`,
        '--root',
        '/srv/mailroom',
        ...ssh,
      ],
      { env: nodeEnv() },
    );
    await mr('agent', 'add', 'research', '--host', 'vps', '--role', 'research');
    await mr('agent', 'add', 'research2', '--host', 'vps', '--role', 'research');
    await mr('agent', 'add', 'coder', '--host', 'gpu', '--role', 'code');

    const send = (to: string, title: string, ...extra: string[]) => mr('send', to, title, ...extra);
    const a = await send('research', 'Summarise five articles on inbox sync', '--priority', 'high');
    await mr('start', a, '--as', 'research');
    await mr('progress', a, '3 of 5 read', '--as', 'research');
    await send('research', 'Compare Backlog.md and mcp_agent_mail boards');
    await send('research2', 'Collect user complaints about sync lag');
    const r2 = await send('research2', 'List SSH agent forwarding pitfalls');
    await mr('ack', r2, '--as', 'research2');
    const d = await send('research2', 'Find the rsync baseline for 10k files');
    await mr('done', d, '--as', 'research2', '--result', 'rsync -a: 1.9 s for 10,000 files of 2 KB');
    const f = await send('coder', 'Build the release bundle on the GPU box', '--max-attempts', '1');
    await mr('start', f, '--as', 'coder');
    await mr(
      'fail',
      f,
      '--error',
      'CUDA driver mismatch (535 vs 550)',
      '--tried',
      'rebuilt twice, cleared the cache',
      '--as',
      'coder',
    );
    const q = await send(
      'human',
      'Which API key should the crawler use, staging or production?',
      '--as',
      'research',
    );
    const qPath = join(root, 'agents', 'human', 'inbox', `${q}.md`);
    await writeFile(
      qPath,
      (await readFile(qPath, 'utf8')).replace('state: queued', 'kind: question\nstate: queued'),
    );

    const daemon = spawn(process.execPath, [CLI, 'daemon', '--root', root], {
      env: nodeEnv(),
      stdio: 'ignore',
    });
    children.push(daemon);
    await pollUntil(
      'the escalation',
      async () =>
        (await readFile(join(root, 'agents', 'human', 'inbox', `${f}.md`), 'utf8').catch(() => '')).includes(
          'escalated',
        ),
      30_000,
    );
    await pollUntil(
      'a sync with vps',
      async () =>
        (await readFile(join(root, '.mailroom', 'sync', 'vps.json'), 'utf8').catch(() => '')).includes(
          'lastSyncAt',
        ),
      30_000,
    );
    const board = spawn(process.execPath, [CLI, 'board', '--root', root], {
      env: nodeEnv(),
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(board);
    let text = '';
    board.stdout!.on('data', (b: Buffer) => (text += b.toString()));
    await pollUntil('the board URL', () => /http:\S+/.test(text), 15_000);
    const url = /http:\S+/.exec(text)![0];

    const browser = await launchChromium({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await browser.context.newPage();
      await page.goto(`${url}#task=${f}`);
      await page.waitForSelector('#task h3');
      await page.waitForSelector('#hosts tbody tr');
      await page.screenshot({ path: out, fullPage: true });
    } finally {
      await browser.close();
    }
    console.log(`wrote ${out}`);
  } finally {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((done) => {
            if (c.exitCode !== null) return done();
            c.once('exit', () => done());
            c.kill('SIGTERM');
          }),
      ),
    );
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exitCode = 1;
});
