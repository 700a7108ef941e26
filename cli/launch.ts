// The installed `mailroom` command (dist/bin/mailroom.js): runs the CLI bundle, dist/bin/mailroom.cjs,
// through the code cache of compile-cache.ts; for exactly `serve --root DIR`, the far agent's own
// bundle, dist/bin/serve.cjs, if it is there (lean-serve.ts). Only Node's own modules: it runs before
// anything else.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { constants, Script } from 'node:vm';
import { cacheFileFor, cacheFolder, pruneOtherBuilds, readCache, writeCache } from './compile-cache.js';
import { LEAN_SERVE_BUNDLE, leanServeRoot } from './lean-serve.js';

function bundlePath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (leanServeRoot(process.argv.slice(2)) !== undefined) {
    const lean = join(here, LEAN_SERVE_BUNDLE);
    if (existsSync(lean)) return lean;
  }
  return join(here, 'mailroom.cjs');
}

function launch(): void {
  const BUNDLE = bundlePath();
  const text = readFileSync(BUNDLE, 'utf8');
  // main.ts's `#!` line (not JavaScript inside a function); its newline stays, so lines still match.
  const source = text.startsWith('#!') ? text.slice(text.indexOf('\n')) : text;
  const enabled = process.env.MAILROOM_COMPILE_CACHE !== '0';
  const bundle = statSync(BUNDLE);
  const folder = cacheFolder();
  const cachePath = enabled ? cacheFileFor(folder, bundle, process.argv[2]) : undefined;
  const cachedData = cachePath ? readCache(cachePath) : undefined;
  // The bundle is CommonJS; esbuild turned `import.meta.url` into __mailroom_url (scripts/bundle.mjs).
  const wrapped = `(function (exports, require, module, __filename, __dirname, __mailroom_url) {${source}\n})`;
  const script = new Script(wrapped, {
    filename: BUNDLE,
    ...(cachedData ? { cachedData } : {}),
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  // The cache holds what this run compiled: only a run that did the verb's work writes it. A first
  // `ack --help` or a failed `ack` wrote one without the work's code, and every `ack` after it
  // compiled that code again (20 ms of each).
  if (cachePath && (!cachedData || script.cachedDataRejected === true))
    process.once('exit', (code) => {
      if (code !== 0 || process.argv.slice(3).some((a) => a === '--help' || a === '-h')) return;
      pruneOtherBuilds(folder, bundle);
      writeCache(cachePath, script.createCachedData());
    });
  const module = { exports: {} };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run(module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE), pathToFileURL(BUNDLE).href);
}

launch();
