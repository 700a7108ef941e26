// Figure 4: what a person or an agent waits for one command on the big mailroom, against the floor
// every Node program pays (`node -e 0`). `ack` takes a different queued task each run; `ls` lists
// every task in inbox and outbox (its output goes nowhere, so a terminal's speed is not measured).

import type { Hub } from './fixture.js';
import { CLI, nodeEnv } from './mailroom-cli.js';
import { mustRun, type Samples, sampleUnderBudget, summarise } from './measure.js';

export interface CliFigures {
  node: Samples;
  ack: Samples;
  ls: Samples;
}

export async function benchCli(
  hub: Hub,
  opts: { reps: number; budgetMs: number; ackTasks: readonly number[] },
): Promise<CliFigures> {
  const env = nodeEnv();
  const node: number[] = [];
  const ack: number[] = [];
  const ls: number[] = [];
  const ids = opts.ackTasks.map((n) => hub.tasks[n]!.id);
  // The task files are in the page cache already (the sync passes just read them); warm node itself.
  await mustRun(process.execPath, ['-e', '0'], { env });
  await sampleUnderBudget(Math.min(opts.reps, ids.length), opts.budgetMs, async (i) => {
    node.push((await mustRun(process.execPath, ['-e', '0'], { env })).ms);
    ack.push((await mustRun(process.execPath, [CLI, 'ack', ids[i]!, '--root', hub.root], { env })).ms);
    ls.push(
      (await mustRun(process.execPath, [CLI, 'ls', '--root', hub.root], { env, discardStdout: true })).ms,
    );
  });
  return { node: summarise(node), ack: summarise(ack), ls: summarise(ls) };
}
