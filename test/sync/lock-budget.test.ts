// Far lock folders kept fresh must not make a pass wait 15 s per file (trust issue, point 7): lock
// waits have one budget per pass; files whose lock stays held are left for the next pass, and the
// pass says it was partial.

import { afterEach, beforeEach, expect, it } from 'vitest';
import { localEndpoint } from '../../src/endpoint/local.js';
import { runCli } from '../support/cli.js';
import { locations } from '../support/daemon.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

let sides: TwoMachines;
let hub: string;
let far: string;

beforeEach(async () => {
  sides = await twoMachines();
  ({ hub, far } = sides);
});
afterEach(async () => sides.cleanup());

it('far locks kept fresh: the pass spends one lock-wait budget, skips those files and is partial', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 6; i++)
    ids.push((await runCli(['send', 'research', `t${i}`, '--as', 'dispatch', '--root', hub])).stdout.trim());
  // A far process holds (and keeps refreshing) the lock of every target file.
  const farEp = localEndpoint(far);
  const releases = await Promise.all(ids.map((id) => farEp.lock(`agents/research/inbox/${id}.md`)));
  try {
    const r = await sides.sync({ lockWaitBudgetMs: 300 });
    expect(r.partial).toBe(true);
    expect(r.lockSkipped).toBe(6);
    expect(r.problems.map((p) => p.path).sort()).toEqual(ids.map((id) => `task ${id}`).sort());
  } finally {
    await Promise.all(releases.map((release) => release()));
  }
  // Free again: the next pass takes them all and is whole.
  const next = await sides.sync();
  expect(next.partial).toBe(false);
  const there = await locations(far);
  for (const id of ids) expect(there.get(id)).toEqual(['research/inbox']);
});
