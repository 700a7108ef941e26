// Which bundle the launcher runs (launch.ts): `mailroom serve --root DIR`, the command line a hub
// sends over SSH (src/remote/probe.ts), runs dist/bin/serve.cjs (cli/serve-main.ts), the far agent
// alone; every other command line runs the whole CLI. No imports: the launcher bundles this file.

export const LEAN_SERVE_BUNDLE = 'serve.cjs';

/** The root of exactly `serve --root DIR` (the arguments after the command), else undefined. */
export function leanServeRoot(args: readonly string[]): string | undefined {
  return args.length === 3 && args[0] === 'serve' && args[1] === '--root' && args[2] !== ''
    ? args[2]
    : undefined;
}
