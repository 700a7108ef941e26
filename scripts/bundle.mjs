// Bundles the compiled CLI (dist/cli/main.js, from tsc) into dist/bin/: mailroom.cjs, the whole CLI,
// serve.cjs, the far agent alone, and mailroom.js, the command, which loads one of them with a code
// cache (cli/launch.ts). Loading one bundle
// instead of ~300 ES modules is most of the CLI's start-up time (docs/performance.md). ssh2 is in it
// too; only its optional native parts stay outside (ssh2NativeParts).
import { chmod, rm, writeFile } from 'node:fs/promises';
import { build } from 'esbuild';

const noZodLocales = {
  // zod's main entry re-exports every locale as `z.locales` (358 KB); mailroom uses only English,
  // which zod imports on its own. Replacing the re-export with an empty module keeps them out.
  name: 'no-zod-locales',
  setup(b) {
    b.onResolve({ filter: /locales\/index\.js$/ }, (args) =>
      args.importer.includes('/zod/') ? { path: 'zod-locales', namespace: 'stub' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

const lazyBuiltins = {
  // commander requires child_process when it loads (for executable subcommands, which mailroom has
  // none of): a few ms of every command's start. A package's CommonJS require of it gets a stand-in
  // that loads the real module on first use. Only for CommonJS importers: esbuild's ES-module interop
  // would read every property at once.
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.importer.includes('/node_modules/') && args.kind === 'require-call'
        ? { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `let real;
const load = () => (real ??= require('node:${args.path}'));
module.exports = new Proxy(function () {}, {
  get: (_, key) => load()[key],
  apply: (_, self, argv) => Reflect.apply(load(), self, argv),
  has: (_, key) => key in load(),
});`,
      loader: 'js',
    }));
  },
};

const ssh2NativeParts = {
  // ssh2 is bundled (loading it from node_modules compiled ~40 files without a code cache: 60-80 ms
  // of every `mailroom sync` and daemon start). Its optional native parts stay outside: its crypto
  // binding is required from the installed package at run time (ssh2 stays a dependency), and
  // cpu-features (an optional dependency of ssh2) as it is; ssh2 falls back to JavaScript without
  // either, as it does when they were not built.
  name: 'ssh2-native-parts',
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (args) =>
      args.importer.includes('/node_modules/ssh2/')
        ? { path: 'ssh2/lib/protocol/crypto/build/Release/sshcrypto.node', external: true }
        : undefined,
    );
  },
};

await rm('dist/bin', { recursive: true, force: true }); // stale files of an earlier layout
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: process.env.BUNDLE_MINIFY !== '0', // BUNDLE_MINIFY=0 for readable profiles
  logLevel: 'warning',
};
// The CLI: one CommonJS file, which launch.ts compiles with a V8 code cache (Node 20 has no compile
// cache for ES modules). ESM chunks split per command cost a module resolution each and could not
// be cached; one cached script loads faster than either.
await build({
  ...common,
  entryPoints: { mailroom: 'dist/cli/main.js' },
  outfile: 'dist/bin/mailroom.cjs',
  format: 'cjs',
  external: ['cpu-features'],
  // launch.ts passes the bundle's URL in; CommonJS has no import.meta.
  define: { 'import.meta.url': '__mailroom_url' },
  plugins: [noZodLocales, lazyBuiltins, ssh2NativeParts],
});
// The far agent alone (cli/serve-main.ts), for `mailroom serve --root DIR`: what a hub starts over
// SSH at every one-shot sync and every reconnect, so its start-up is on the pass's path. No commander,
// no ssh2, no other verb: ~380 KB instead of ~1.4 MB (docs/performance.md).
await build({
  ...common,
  entryPoints: { serve: 'dist/cli/serve-main.js' },
  outfile: 'dist/bin/serve.cjs',
  format: 'cjs',
  define: { 'import.meta.url': '__mailroom_url' },
  plugins: [noZodLocales, lazyBuiltins],
});
// The command itself: the launcher, Node's own modules only, as CommonJS. An ES module as the
// entry point made Node set up its ES module loader first: about 14 ms of every command's start
// (docs/performance.md, "CLI start-up"). dist/bin/package.json makes `.js` there CommonJS.
await build({
  ...common,
  entryPoints: { mailroom: 'dist/cli/launch.js' },
  outdir: 'dist/bin',
  format: 'cjs',
  banner: { js: '#!/usr/bin/env node' },
  define: { 'import.meta.url': '__launcher_url' },
  inject: ['scripts/launcher-url.mjs'],
});
await writeFile('dist/bin/package.json', `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
await chmod('dist/bin/mailroom.js', 0o755);
