// Bundles the compiled CLI (dist/cli/main.js, from tsc) into dist/bin/: one entry file plus chunks
// for the lazily imported command handlers. Loading one bundle instead of ~300 ES modules is most
// of the CLI's start-up time (docs/performance.md). ssh2 stays external: it is CommonJS with an
// optional native addon, and only `sync`, `daemon` and `doctor` load it.
import { chmod, rm } from 'node:fs/promises';
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

await rm('dist/bin', { recursive: true, force: true }); // chunk names change with their content
await build({
  entryPoints: { mailroom: 'dist/cli/main.js' },
  outdir: 'dist/bin',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: process.env.BUNDLE_MINIFY !== '0', // BUNDLE_MINIFY=0 for readable profiles
  external: ['ssh2', 'cpu-features'],
  banner: { js: "import{createRequire as __mrcr}from'node:module';const require=__mrcr(import.meta.url);" },
  plugins: [noZodLocales],
  logLevel: 'warning',
});
await chmod('dist/bin/mailroom.js', 0o755);
