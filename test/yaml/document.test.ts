// Hostile YAML is a fact about a file, never an exception out of the parser (torture defect D5): the
// parser on its own, then a task file holding it on a hub and a far side, through sync, the daemon's
// pass and the commands that read every task.

import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { parseYaml } from '../../src/yaml/document.js';
import { readEvents, taskText } from '../../torture/support.js';
import { runCli } from '../support/cli.js';
import { daemonPass, where } from '../support/daemon.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

/** 10^4 expansions from four short lines. */
const BOMB =
  'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]';

describe('parseYaml on hostile input', () => {
  const cases: [string, string, RegExp][] = [
    [
      'an alias bomb (10^4 expansions from four short lines)',
      BOMB,
      /^YAML aliases expand too much \(at most 100\)$/,
    ],
    ['an alias to an anchor that is not set', 'a: &a b\nc: *zz', /Unresolved alias/],
    ['nesting deep enough to exhaust the stack', `${'['.repeat(20_000)}${']'.repeat(20_000)}`, /./],
  ];
  for (const [what, text, message] of cases) {
    it(`reports ${what} as a problem`, () => {
      const r = parseYaml(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.problem.message).toMatch(message);
    });
  }

  it('still expands a modest use of aliases', () => {
    const r = parseYaml('a: &a [x, y]\nb: [*a, *a]\n');
    expect(r.ok && r.value).toEqual({
      a: ['x', 'y'],
      b: [
        ['x', 'y'],
        ['x', 'y'],
      ],
    });
  });
});

describe('an alias bomb in a task file, on a hub and a far side', () => {
  let sides: TwoMachines;
  let hub: string;
  let far: string;
  beforeEach(async () => {
    sides = await twoMachines({ agents: ['r0'], bare: true });
    ({ hub, far } = sides);
  });
  afterEach(async () => sides.cleanup());

  // D5 (S5, S6): a YAML alias bomb in any task file makes parsing throw instead of reporting the file:
  // the daemon never reports it, `mailroom ls`, `doctor` and `status` die with "unexpected error", and
  // one such file on either side fails every sync pass with that host.
  it('D5: a YAML alias bomb is an unreadable file, not a crash', async () => {
    const bomb = `---\n${BOMB}\nid: bomb\n---\n`;
    expect(() => parseTask(bomb, 'bomb')).not.toThrow(); // was: ReferenceError: Excessive alias count
    await writeFile(join(far, 'agents/r0/inbox/bomb.md'), bomb);
    await writeFile(
      join(far, 'agents/r0/inbox/fine.md'),
      // From the host's own agent: a far task in another's name is quarantined (docs/spec.md §6).
      taskText({ id: 'fine', from: 'r0', to: 'r0' }, 'x\n'),
    );
    await sides.sync();
    expect(await where(hub, 'fine')).toEqual(['agents/r0/inbox/fine.md']);
    // On the hub: the daemon reports it like any unreadable file, and the commands that read every
    // task name it instead of dying.
    const path = join(hub, 'agents/human/inbox/bomb.md');
    await writeFile(path, bomb);
    await utimes(path, new Date(Date.now() - 5000), new Date(Date.now() - 5000));
    await daemonPass(hub);
    const events = await readEvents(hub);
    const reported = events.filter(
      (e) => e.type === 'task.unreadable' && e.path === 'agents/human/inbox/bomb.md',
    );
    expect(reported.map((e) => e.reason)).toEqual([
      'invalid YAML: YAML aliases expand too much (at most 100)',
    ]);
    for (const verb of ['ls', 'doctor', 'status']) {
      const r = await runCli([verb, '--root', hub]);
      expect(`${r.stdout}${r.stderr}`, verb).not.toMatch(/unexpected error|Excessive alias/);
      if (verb !== 'status')
        expect(`${r.stdout}${r.stderr}`, verb).toMatch(/bomb\.md.*YAML aliases expand too much/);
    }
  });
});
