// `mailroom host init HOST` over a real sshd (docs/spec.md §6): the far mailroom.yaml lists the
// host's agents as local and the hub's others as elsewhere, AGENT.md is copied into each far agent
// folder, the far mailroom is reported, and an existing far mailroom.yaml is never overwritten
// without --force.

import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithSshd } from '../support/sshd.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

describeWithSshd('host init', (sshd) => {
  let env: TwoMachines;
  beforeAll(async () => {
    env = await twoMachines({ sshd: sshd() });
    // A bare far folder: what host init must create.
    await rm(join(env.far, 'mailroom.yaml'));
    await rm(join(env.far, 'agents'), { recursive: true });
  });
  afterAll(async () => env.cleanup());

  it('writes the far mailroom.yaml and AGENT.md, and refuses to overwrite it without --force', async () => {
    const { hub, far, cli } = env;
    const r = await cli(hub, ['host', 'init', 'vps']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/initialised vps: agents research live there; dispatch, human elsewhere/);
    expect(r.stdout).toMatch(/vps: (mailroom \S+|no mailroom there: SFTP fallback)/);
    const yaml = await readFile(join(far, 'mailroom.yaml'), 'utf8');
    expect(yaml).toMatch(/^ {2}research: \{\}$/m);
    expect(yaml).toMatch(/^ {2}human: \{ elsewhere: true \}$/m);
    expect(yaml).toMatch(/^ {2}dispatch: \{ elsewhere: true \}$/m);
    const template = await readFile(join(import.meta.dirname, '../../inbox-template/AGENT.md'), 'utf8');
    expect(await readFile(join(far, 'agents/research/AGENT.md'), 'utf8')).toBe(template);

    // The far config loads: a far send to the hub human is queued in the sender's outbox.
    const sent = await cli(far, ['send', 'human', 'Hello hub', '--as', 'research']);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stderr).toMatch(/queued in research\/outbox/);

    // An existing far mailroom.yaml is kept.
    await writeFile(join(far, 'mailroom.yaml'), `${yaml}# edited on the far side\n`);
    const again = await cli(hub, ['host', 'init', 'vps']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/mailroom\.yaml already exists.*\n.*--force/);
    expect(await readFile(join(far, 'mailroom.yaml'), 'utf8')).toBe(`${yaml}# edited on the far side\n`);
    const forced = await cli(hub, ['host', 'init', 'vps', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(join(far, 'mailroom.yaml'), 'utf8')).toBe(yaml);
  });
});
