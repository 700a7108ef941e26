// The far `mailroom watch` stream is untrusted (docs/spec.md §6): 50 MB without a newline must not
// freeze the hub's daemon or grow its memory. Real sshd, real daemon; memory is the daemon's RSS.

import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { locations, startDaemon } from '../support/daemon.js';
import { pollUntil } from '../support/poll.js';
import { describeWithSshd } from '../support/sshd.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

/** Resident memory of a process, from /proc (bytes). */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  return kb * 1024;
}

describeWithSshd('a far change stream without newlines', (sshd) => {
  let env: TwoMachines;
  beforeAll(async () => {
    env = await twoMachines({ sshd: sshd() });
  });
  afterAll(async () => env.cleanup());

  it('50 MB without a newline: the daemon still routes local tasks and its memory stays bounded', async () => {
    const { hub, dir } = env;
    const sent = join(dir, 'stream-sent');
    // Stands in for `mailroom watch` on a hostile far side: ready, then 50 MB of one line. It has no
    // `serve`, so the hub syncs over SFTP and follows this stream (a far agent's frames have their
    // own cap: test/sync/agent.test.ts).
    const script = join(sshd().dir, 'hostile-watch');
    await writeFile(
      script,
      `#!/bin/sh\n[ "$1" = serve ] && exit 127\necho ready\nhead -c 52428800 /dev/zero | tr '\\000' x\ntouch '${sent}'\nexec sleep 600\n`,
    );
    await chmod(script, 0o755);
    const config = join(hub, 'mailroom.yaml');
    const text = await readFile(config, 'utf8');
    await writeFile(
      config,
      text.replace(/known_hosts: .*\n/, (m) => `${m}    mailroom: ${script}\n`),
    );
    const daemon = await startDaemon(hub);
    try {
      await pollUntil('the follower', () => daemon.output().includes('following vps'), 20_000);
      // The far side wrote its last byte only once the hub had read the rest (SSH flow control).
      await pollUntil(
        'all 50 MB sent',
        () =>
          stat(sent).then(
            () => true,
            () => false,
          ),
        60_000,
      );
      await pollUntil('the drop to be reported', () => daemon.output().includes('over 4 KB'), 20_000);
      const id = (await env.cli(hub, ['send', 'human', 'Local work', '--as', 'dispatch'])).stdout.trim();
      for (const args of [
        ['ack', id, '--as', 'human'],
        ['start', id, '--as', 'human'],
        ['done', id, '--as', 'human'],
      ])
        expect((await env.cli(hub, args)).code).toBe(0);
      await pollUntil(
        'the local task routed home',
        async () => (await locations(hub)).get(id)?.join() === 'dispatch/inbox',
        20_000,
      );
      // The old code held the whole line (and copies of it): hundreds of MB.
      const rss = await rssOf(daemon.child.pid!);
      expect(rss, `daemon RSS ${Math.round(rss / 1024 ** 2)} MB`).toBeLessThan(200 * 1024 ** 2);
    } finally {
      await daemon.stop();
      await writeFile(config, text);
    }
  });
});
