// A private, throw-away OpenSSH sshd for tests (the process itself: sshd-core.ts), and the describe
// block that runs a suite against one. Facts it relies on: docs/sshd.md.

import { afterAll, beforeAll, describe, it } from 'vitest';
import { type Sshd, type SshdOptions, sshdAvailable, startSshd } from './sshd-core.js';

export { freePort, SSHD_BIN, type Sshd, type SshdOptions, sshdAvailable, startSshd } from './sshd-core.js';

/** What a suite needing sshd does here: run it, skip it (developer machine), or fail (CI). */
export function sshdGate(
  available: ReturnType<typeof sshdAvailable>,
  env: NodeJS.ProcessEnv,
): { action: 'run' } | { action: 'skip' | 'fail'; reason: string } {
  if (available.ok) return { action: 'run' };
  return { action: env.CI === 'true' ? 'fail' : 'skip', reason: available.reason };
}

/**
 * A describe block that runs against a fresh sshd (started once for the block). Without sshd it is
 * skipped with a loud warning on a developer machine, and FAILS under CI=true: a skip in CI is a failure.
 */
export function describeWithSshd(
  name: string,
  body: (sshd: () => Sshd) => void,
  opts: SshdOptions = {},
): void {
  const gate = sshdGate(sshdAvailable(), process.env);
  if (gate.action === 'fail') {
    describe(name, () => {
      it('needs a real sshd', () => {
        throw new Error(`sshd tests cannot be skipped under CI: ${gate.reason}`);
      });
    });
    return;
  }
  if (gate.action === 'skip') {
    console.warn(`\n*** SKIPPING "${name}": ${gate.reason}. Run: apt-get install -y openssh-server ***\n`);
    // Conditional, and the reason is in the name the reporter prints.
    describe.skipIf(gate.action === 'skip')(`${name} [skipped: ${gate.reason}]`, () =>
      body(() => undefined as never),
    );
    return;
  }
  describe(name, () => {
    let server: Sshd | undefined;
    beforeAll(async () => {
      server = await startSshd(opts);
    });
    afterAll(async () => {
      await server?.stop();
    });
    body(() => {
      if (server === undefined) throw new Error('the test sshd is not running');
      return server;
    });
  });
}
