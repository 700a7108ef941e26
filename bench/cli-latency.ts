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

/** `--only cli`: the three rows and the two ratios, as the full run's section 4 gives them. */
export function cliText(f: CliFigures, tasks: number): string {
  const ms = (s: Samples) =>
    `${s.medianMs.toFixed(0)} ms (min ${s.minMs.toFixed(0)}, max ${s.maxMs.toFixed(0)}, n=${s.samplesMs.length})`;
  const x = (s: Samples) => `${(s.medianMs / f.node.medianMs).toFixed(2)}x`;
  return [
    `CLI latency on the ${tasks}-task mailroom (medians):`,
    `  node -e 0                                  ${ms(f.node)}`,
    `  mailroom ack ID                            ${ms(f.ack)}   ${x(f.ack)} node, target <= 1.5x`,
    `  mailroom ls (inbox + outbox, all agents)   ${ms(f.ls)}   ${x(f.ls)} node, target <= 3x`,
  ].join('\n');
}
