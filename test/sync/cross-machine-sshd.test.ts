// Sending across machines (docs/spec.md §6), over a real sshd: a far agent's question to the hub's
// human waits in its own outbox, a hub sync carries it, the hub daemon delivers it into the human's
// inbox, and the human's answer goes back the same way into the far agent's inbox.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { locations, startDaemon } from '../support/daemon.js';
import { pollUntil } from '../support/poll.js';
import { describeWithSshd } from '../support/sshd.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

describeWithSshd('sending across machines', (sshd) => {
  let env: TwoMachines;
  beforeAll(async () => {
    env = await twoMachines({ sshd: sshd() });
    // The far mailroom knows the hub's human as living elsewhere (what `host init` writes).
    const config = join(env.far, 'mailroom.yaml');
    const text = await readFile(config, 'utf8');
    await writeFile(config, text.replace('  human: {}', '  human: { elsewhere: true }'));
  });
  afterAll(async () => env.cleanup());

  it("a far agent's question reaches the hub human's inbox and the answer goes back to the far agent", async () => {
    const { hub, far, cli } = env;
    const sent = await cli(far, ['ask', 'human', 'Which census year?', '--as', 'research']);
    expect(sent.code, sent.stderr).toBe(0);
    const id = sent.stdout.trim();
    expect(sent.stderr).toMatch(/queued in research\/outbox; it reaches human when the hub next syncs/);
    expect((await locations(far)).get(id)).toEqual(['research/outbox']);

    const sync = await cli(hub, ['sync']);
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stderr).not.toMatch(/quarantined/);
    expect((await locations(hub)).get(id)).toEqual(['research/outbox']);

    // The hub daemon delivers it: the human's inbox, with a note saying where it came from.
    let daemon = await startDaemon(hub);
    try {
      await pollUntil(
        'the question in the hub human inbox',
        async () => JSON.stringify((await locations(hub)).get(id)) === '["human/inbox"]',
        30_000,
      );
    } finally {
      await daemon.stop();
    }
    const delivered = await readFile(join(hub, 'agents/human/inbox', `${id}.md`), 'utf8');
    expect(delivered).toMatch(/note: delivered from vps\/research/);
    expect(delivered).toMatch(/state: queued/);

    const answered = await cli(hub, ['answer', id, 'Use 2021.']);
    expect(answered.code, answered.stderr).toBe(0);

    // The next daemon pass routes the answer home (research's inbox on the hub); its sync pushes it.
    daemon = await startDaemon(hub);
    try {
      await pollUntil(
        'the answer in the far research inbox',
        async () => JSON.stringify((await locations(far)).get(id)) === '["research/inbox"]',
        60_000,
      );
    } finally {
      await daemon.stop();
    }
    const back = await readFile(join(far, 'agents/research/inbox', `${id}.md`), 'utf8');
    expect(back).toMatch(/state: done/);
    expect(back).toContain('Use 2021.');
    expect((await locations(hub)).get(id)).toEqual(['research/inbox']);
  });
});
