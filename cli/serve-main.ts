// `mailroom serve --root DIR` on its own: dist/bin/serve.cjs, which the launcher (launch.ts) runs for
// exactly that command line, the one a hub sends over SSH (src/remote/probe.ts). The far agent starts
// at every one-shot `mailroom sync` and every reconnect of a daemon, and its start-up is on the pass's
// path: this bundle is a quarter of the whole CLI (no commander, no ssh2, no other verb), which saved
// ~30 ms of each start on this machine (docs/performance.md). Any other shape of the command line
// (`--root=DIR`, `--debug`, `--help`) runs the whole CLI, which defines `serve` the same way.

import { serve } from './commands/serve.js';
import { leanServeRoot } from './lean-serve.js';
import { endQuietlyOnClosedPipe, exitWhenWritten, reportError } from './output.js';

const root = leanServeRoot(process.argv.slice(2));
endQuietlyOnClosedPipe();
// No top-level await: the bundle is CommonJS (scripts/bundle.mjs).
void (
  root === undefined
    ? Promise.resolve(reportError(new Error('serve.cjs runs only `serve --root DIR`'), false))
    : serve({ root }).then(
        () => 0,
        (err: unknown) => reportError(err, false),
      )
).then(exitWhenWritten);
