import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../support/cli.js';
import { startDaemon } from '../support/daemon.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => tmp.cleanup());

describe('the quick start', () => {
  it('`mailroom demo` shows routing, a retried failure and an escalation with notify, then exits 0', async () => {
    // A previous demo (it carries the demo's mark) is recreated; anything else is refused (demo.test.ts).
    const root = join(tmp.dir, 'demo');
    await mkdir(join(root, '.mailroom'), { recursive: true });
    await writeFile(join(root, '.mailroom/demo'), 'made by mailroom demo\n');
    await writeFile(join(root, 'left-from-last-run.txt'), 'x\n');
    const r = await runCli(['demo', '--root', root]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/the result is back in agents\/dispatch\/inbox\//);
    expect(r.stdout).toMatch(/daemon: retrying \S+ on research: retry after a 2s backoff, attempt 2 of 3/);
    expect(r.stdout).toMatch(/daemon: escalated \S+ to human: not acknowledged within 3s/);
    expect(r.stdout).toMatch(
      /the notify command ran, with the task's fields as environment variables: \S+ Call the legacy billing API: not acknowledged/,
    );
    expect(r.stdout).toMatch(/dispatch\s+2 done/);
    expect(existsSync(join(root, 'left-from-last-run.txt'))).toBe(false);
    expect(existsSync(join(root, '.mailroom/demo'))).toBe(true);
  });

  it('`mailroom daemon --init` creates a local mailroom on first run and serves it', async () => {
    const root = join(tmp.dir, 'local');
    const d = await startDaemon(root, ['--init', '--rescan', '1s']);
    try {
      expect(existsSync(join(root, 'mailroom.yaml'))).toBe(true);
      expect(d.output()).toMatch(/created a local mailroom in/);
      // daemon output lines carry a full UTC timestamp (was HH:MM:SS: no date, no zone)
      expect(d.output()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ mailroom daemon watching/m);
      const s = await runCli(['status', '--json', '--root', root]);
      expect(JSON.parse(s.stdout).daemon.running).toBe(true);
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });
});
