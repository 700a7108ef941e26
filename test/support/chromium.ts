// A real headless Chromium for the board's browser tests: Debian's `chromium` driven by playwright-core
// (which never downloads a browser). Without one, a suite is skipped with a loud warning on a
// developer machine and FAILS under CI=true (like the sshd gate in sshd.ts): a skip in CI is a failure.

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';

export const CHROMIUM_BIN = process.env.MAILROOM_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumAvailable(): { ok: true } | { ok: false; reason: string } {
  return existsSync(CHROMIUM_BIN) ? { ok: true } : { ok: false, reason: `${CHROMIUM_BIN} is not installed` };
}

/** A browser with a fresh profile folder, removed on close. */
export async function launchChromium(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'mailroom-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_BIN,
    headless: true,
    args: ARGS,
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** A describe block with one browser for the block, gated like describeWithSshd. */
export function describeWithChromium(name: string, body: (browser: () => BrowserContext) => void): void {
  const available = chromiumAvailable();
  if (!available.ok && process.env.CI === 'true') {
    describe(name, () => {
      it('needs a real Chromium', () => {
        throw new Error(`browser tests cannot be skipped under CI: ${available.reason}`);
      });
    });
    return;
  }
  if (!available.ok) {
    console.warn(`\n*** SKIPPING "${name}": ${available.reason}. Run: apt-get install -y chromium ***\n`);
    describe.skipIf(!available.ok)(`${name} [skipped: ${available.reason}]`, () =>
      body(() => undefined as never),
    );
    return;
  }
  describe(name, () => {
    let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
    });
    body(() => {
      if (browser === undefined) throw new Error('the test browser is not running');
      return browser.context;
    });
  });
}
