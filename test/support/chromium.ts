// A real headless Chromium for the board's browser tests (the browser itself: chromium-core.ts).
// Without one, a suite is skipped with a loud warning on a developer machine and FAILS under CI=true
// (like the sshd gate in sshd.ts): a skip in CI is a failure.

import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { chromiumAvailable, type LaunchedChromium, launchChromium } from './chromium-core.js';

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
    let browser: LaunchedChromium | undefined;
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
