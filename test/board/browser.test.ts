// The board in a real headless Chromium (test/support/chromium.ts), on a real mailroom with a real
// daemon process routing: the page loads with the token and not without; a task sent from the CLI
// appears without a reload; a question answered on the page lands in the task file and is routed back
// to the asker; retry and reassign from the page change the file; hostile titles and links are text.

import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BoardHandle, startBoardProcess } from '../support/board.js';
import { describeWithChromium } from '../support/chromium.js';
import { newMailroom } from '../support/cli.js';
import { type DaemonHandle, startDaemon } from '../support/daemon.js';
import { pollUntil } from '../support/poll.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
let daemon: DaemonHandle;
let board: BoardHandle;

const taskFile = (agent: string, id: string) => `${env.root}/agents/${agent}/inbox/${id}.md`;
const fileText = (agent: string, id: string) => readFile(taskFile(agent, id), 'utf8').catch(() => '');

async function send(to: string, title: string, extra: string[] = []): Promise<string> {
  const r = await env.mr(['send', to, title, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** A page on the board, loaded (the first snapshot drawn). */
async function openBoard(browser: () => import('playwright-core').BrowserContext, hash = ''): Promise<Page> {
  const page = await browser().newPage();
  await page.goto(board.url + hash);
  await page.waitForSelector('body[data-version]');
  return page;
}

describeWithChromium('board in a browser', (browser) => {
  beforeAll(async () => {
    env = await newMailroom([]);
    for (const [name, role] of [
      ['research', 'research'],
      ['research2', 'research'],
      ['coder', 'code'],
    ])
      expect((await env.mr(['agent', 'add', name!, '--role', role!])).code).toBe(0);
    daemon = await startDaemon(env.root);
    board = await startBoardProcess(env.root);
  });
  afterAll(async () => {
    await board?.stop();
    await daemon?.stop();
    await env?.cleanup();
  });

  it('loads with the token and not without', async () => {
    const page = await openBoard(browser);
    await page.waitForSelector('#agents tbody tr[data-agent="research2"]');
    expect(await page.locator('#agents tbody tr').count()).toBe(5);
    const bare = await page.goto(`http://127.0.0.1:${board.port}/`);
    expect(bare?.status()).toBe(403);
    expect(await page.locator('#agents').count()).toBe(0);
    const wrong = await page.goto(`http://127.0.0.1:${board.port}/not-the-token/`);
    expect(wrong?.status()).toBe(403);
    await page.close();
  });

  it('shows a task sent from the CLI without a reload, within 2 s', async () => {
    const page = await openBoard(browser);
    await page.evaluate(() => {
      (globalThis as unknown as { stayed: boolean }).stayed = true;
    });
    const id = await send('research', 'fresh from the command line');
    await pollUntil(
      'the new task on the page',
      () => page.locator(`#columns [data-state="queued"] li[data-id="${id}"]`).count(),
      2_000,
    );
    expect(await page.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed)).toBe(true);
    await page.close();
  });

  it('a question answered on the page is in the task file and routed back to the asker', async () => {
    const asked = await env.mr(['ask', 'human', 'Which API key should the crawler use?', '--as', 'research']);
    expect(asked.code, asked.stderr).toBe(0);
    const id = asked.stdout.trim();
    const page = await openBoard(browser);
    const card = page.locator(`#needs li[data-kind="question"][data-id="${id}"]`);
    await card.waitFor();
    await card.locator('textarea[data-op="answer"]').fill('Use the **staging** key.');
    // The action's reply is waited for as an event (a loaded CI run took over 5 s from the click to
    // the file), and must say it was done.
    const replied = page.waitForResponse((r) => r.url().endsWith('/api/action'), { timeout: 30_000 });
    await card.locator('[data-action="answer"] button').click();
    expect((await replied).status()).toBe(200);
    // The page's action is in the file once it replied (finished by human, in its outbox or already routed)...
    await pollUntil('the answer in the task file', async () => {
      for (const where of [`${env.root}/agents/human/outbox/${id}.md`, taskFile('research', id)]) {
        const text = await readFile(where, 'utf8').catch(() => '');
        if (text.includes('Use the **staging** key.')) return true;
      }
      return false;
    });
    // ...and the daemon routes it back to the asker (a hang guard, not a timing target).
    const back = await pollUntil(
      'the answer routed back to research',
      async () => {
        const text = await fileText('research', id);
        return text.includes('state: done') ? text : undefined;
      },
      60_000,
    );
    expect(back).toMatch(/## Result\s+Use the \*\*staging\*\* key\./);
    expect(back).toMatch(/by: human/);
    // Answered: it leaves "Needs you" by itself.
    await pollUntil('the question to leave Needs you', async () => (await card.count()) === 0, 5_000);
    await page.close();
  });

  it('retry and reassign from the page change the task file', async () => {
    const failing = await send('research', 'crawl the archive');
    expect((await env.mr(['start', failing, '--as', 'research'])).code).toBe(0);
    expect((await env.mr(['fail', failing, '--error', 'disk full', '--as', 'research'])).code).toBe(0);
    // Not retryable: the daemon escalates it to human.
    await pollUntil(
      'the escalation',
      async () => (await fileText('human', failing)).includes('escalated'),
      20_000,
    );
    const queued = await send('research', 'summarise the crawl');

    const page = await openBoard(browser);
    const card = page.locator(`#needs li[data-kind="escalated"][data-id="${failing}"]`);
    await card.waitFor();
    await card.getByRole('button', { name: 'Retry' }).click();
    const retried = await pollUntil('the retry in the file', async () => {
      const text = await fileText('research', failing);
      return text.includes('attempt: 2') ? text : undefined;
    });
    expect(retried).toMatch(/state: queued/);
    expect(retried).not.toMatch(/escalated:/);

    await page.goto(`${board.url}#task=${queued}`);
    await page.waitForSelector('#task h3');
    const select = page.locator('#task select');
    expect(await select.locator('option').first().textContent()).toMatch(/research2 — same role/);
    await select.selectOption('research2');
    await page.locator('#task').getByRole('button', { name: 'Reassign' }).click();
    const moved = await pollUntil('the reassignment in the file', async () => {
      const text = await fileText('research2', queued);
      return text || undefined;
    });
    expect(moved).toMatch(/to: research2/);
    expect(moved).toMatch(/reassigned from research to research2/);
    await page.close();
  });

  it('renders a title with <script> and <img onerror> and javascript: links as text', async () => {
    const title = `<script>window.pwned=1</script><img src=x onerror="window.pwned=2"> "quoted" & more`;
    const body = [
      'Open [the report](javascript:window.pwned=3) or [this](JAVASCRIPT:alert(1)).',
      'Inline <img src=x onerror="window.pwned=4"> and <script>window.pwned=5</script>.',
      'A fine link: [docs](https://example.com/docs).',
    ].join('\n\n');
    const id = await send('coder', title, ['--body', body]);
    const page = await openBoard(browser, `#task=${id}`);
    const heading = page.locator('#task h3');
    await heading.waitFor();
    expect(await heading.textContent()).toBe(title);
    expect(await page.locator(`#columns li[data-id="${id}"] .title`).textContent()).toBe(title);
    expect(await page.evaluate(() => (globalThis as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.locator('main img, main script').count()).toBe(0);
    const hrefs = await page
      .locator('#task a')
      .evaluateAll((as) => as.map((a) => (a as unknown as { href: string }).href));
    expect(hrefs).toEqual(['https://example.com/docs']);
    const text = await page.locator('#task .md').first().textContent();
    expect(text).toContain('[the report](javascript:window.pwned=3)');
    expect(text).toContain('<img src=x onerror="window.pwned=4">');
    await page.close();
  });
});
