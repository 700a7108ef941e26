// A real headless Chromium: Debian's `chromium` driven by playwright-core (which never downloads a
// browser), with a fresh profile folder removed on close. Free of vitest, so the benchmark (bench/)
// can launch one too; the tests' wrapper is test/support/chromium.ts.

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

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

export type LaunchedChromium = { context: BrowserContext; close: () => Promise<void> };

/** A browser with a fresh profile folder, removed on close. */
export async function launchChromium(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<LaunchedChromium> {
  const profile = await mkdtemp(join(tmpdir(), 'mailroom-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_BIN,
    headless: true,
    args: ARGS,
    ...(options.viewport === undefined ? {} : { viewport: options.viewport }),
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
