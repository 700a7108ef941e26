// notify runs out of the pass (docs/spec.md §3, §5): 1,000 escalations give a bounded number of runs
// (one per host per notify_interval; the rest coalesced into one notice), and routing goes on while
// they are pending. Real daemon, real notify processes; count- and event-based, no timing.

import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMailroom } from '../support/cli.js';
import { type DaemonHandle, events, locations, startDaemon } from '../support/daemon.js';
import { pollUntil } from '../support/poll.js';

const N = 1000;

describe('a flood of escalations', () => {
  let env: Awaited<ReturnType<typeof newMailroom>>;
  let daemon: DaemonHandle | undefined;
  beforeAll(async () => {
    env = await newMailroom(['research', 'legacy']);
  });
  afterAll(async () => {
    await daemon?.kill().catch(() => {});
    await env.cleanup();
  });

  it('1,000 escalations give a bounded number of notify runs, and routing goes on while they are pending', async () => {
    const runs = join(env.dir, 'notify-runs');
    const config = join(env.root, 'mailroom.yaml');
    // Each run appends its title. One run per hour per host: everything after the first waits.
    const notify = `echo "$MAILROOM_TITLE" >> '${runs}'`;
    const base = `${await readFile(config, 'utf8')}notify: '${notify.replace(/'/g, "''")}'\n`;
    await writeFile(config, `${base}notify_interval: 1h\n`);
    const inbox = join(env.root, 'agents/legacy/inbox');
    await Promise.all(
      Array.from({ length: N }, (_, i) => {
        const id = `flood-${String(i).padStart(4, '0')}`;
        return writeFile(
          join(inbox, `${id}.md`),
          [
            '---',
            `id: ${id}`,
            `title: flood ${i}`,
            'from: dispatch',
            'to: legacy',
            'state: queued',
            'priority: normal',
            'created: 2026-01-01T00:00:00Z',
            'ack_timeout: 1s',
            'history:',
            '  - { state: queued, at: 2026-01-01T00:00:00Z, by: dispatch }',
            '---',
            '',
          ].join('\n'),
        );
      }),
    );
    daemon = await startDaemon(env.root);
    await pollUntil('the first notify run', () => existsSync(runs), 30_000);
    await pollUntil(
      'all escalations',
      async () =>
        (await locations(env.root)).size > 0 &&
        [...(await locations(env.root)).values()].filter((l) => l[0] === 'human/inbox').length === N,
      120_000,
      200,
    );
    // 999 notices are pending: routing must go on meanwhile.
    const id = (await env.mr(['send', 'research', 'meanwhile', '--as', 'dispatch'])).stdout.trim();
    for (const args of [
      ['ack', id],
      ['start', id],
      ['done', id, '--result', 'ok'],
    ])
      expect((await env.mr(args)).code).toBe(0);
    await pollUntil(
      'routing while notices are pending',
      async () => (await locations(env.root)).get(id)?.join() === 'dispatch/inbox',
      30_000,
    );
    const first = (await readFile(runs, 'utf8')).trim().split('\n');
    expect(first).toHaveLength(1);
    expect(first[0]).toMatch(/^flood \d+$/);
    // The interval shortened (a config reload): the waiting ones go out as one coalesced notice.
    await writeFile(config, `${base}notify_interval: 0s\n`);
    const notified = async () =>
      (await events(env.root))
        .filter((e) => e.type === 'notify.sent')
        .reduce((n, e) => n + (typeof e.note === 'string' ? Number(/^(\d+) tasks/.exec(e.note)?.[1]) : 1), 0);
    await pollUntil('every escalation covered by a notice', async () => (await notified()) === N, 30_000);
    const titles = (await readFile(runs, 'utf8')).trim().split('\n');
    expect(titles.length).toBeLessThanOrEqual(3);
    expect(titles.at(-1)).toMatch(/^\d+ tasks escalated on this machine$/);
  });
});
