// The whole machine's CPU over one stretch of work, from /proc/stat (Linux; elsewhere: none): how
// much of all cores' time went to work of any process, and how much waited on the disk. A figure
// that is slow while the machine is near 100% busy is bound by CPU (its own or its neighbours').

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface MachineCpu {
  /** Share of all cores' time spent working (user, system, interrupts, stolen), 0..1. */
  busy: number;
  /** Share of all cores' time idle while waiting on the disk, 0..1. */
  iowait: number;
  cores: number;
}

/** The first line of /proc/stat as [busy, iowait, total] jiffies, or undefined. */
function sample(): [number, number, number] | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number) as number[];
    const busy = user! + nice! + system! + irq! + softirq! + steal!;
    return [busy, iowait!, busy + idle! + iowait!];
  } catch {
    return undefined;
  }
}

/** Runs `work` and says what the whole machine did meanwhile. */
export async function machineCpuAround<T>(work: () => Promise<T>): Promise<{ value: T; cpu?: MachineCpu }> {
  const before = sample();
  const value = await work();
  const after = sample();
  if (!before || !after || after[2] <= before[2]) return { value };
  const total = after[2] - before[2];
  return {
    value,
    cpu: {
      busy: (after[0] - before[0]) / total,
      iowait: (after[1] - before[1]) / total,
      cores: availableParallelism(),
    },
  };
}
