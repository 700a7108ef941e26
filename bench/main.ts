// `npm run bench`: performance goals live here, as ratios against the tools a user would use instead,
// measured in the same run. The sync benchmark against rsync arrives with the sync layer (issue 5);
// for now this measures the CLI's start-up cost against `node -e 0`, which the CLI targets set.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../cli/main.js');
const REPS = 15;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(args: string[]): number {
  const samples: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
    samples.push(performance.now() - t);
  }
  return median(samples);
}

const dir = mkdtempSync(join(tmpdir(), 'mailroom-bench-'));
try {
  const root = join(dir, 'mr');
  execFileSync(process.execPath, [BIN, 'init', root], { stdio: 'ignore' });
  execFileSync(process.execPath, [BIN, 'agent', 'add', 'research', '--root', root], { stdio: 'ignore' });
  const ids = Array.from({ length: REPS }, () =>
    execFileSync(process.execPath, [BIN, 'send', 'research', 'bench', '--root', root]).toString().trim(),
  );
  const base = time(['-e', '0']);
  const ls = time([BIN, 'ls', '--root', root]);
  const ackSamples: number[] = [];
  for (const id of ids) {
    const t = performance.now();
    spawnSync(process.execPath, [BIN, 'ack', id, '--root', root], { stdio: 'ignore' });
    ackSamples.push(performance.now() - t);
  }
  const ack = median(ackSamples);
  const rows = [
    ['node -e 0', base, 1],
    ['mailroom ls', ls, ls / base],
    ['mailroom ack', ack, ack / base],
  ] as const;
  const json = process.argv.includes('--json');
  if (json)
    console.log(
      JSON.stringify({
        reps: REPS,
        results: rows.map(([name, ms, ratio]) => ({ name, medianMs: ms, ratioToNode: ratio })),
      }),
    );
  else {
    console.log(`CLI latency, median of ${REPS} runs (targets: ack <= 1.5x, ls <= 3x node -e 0)`);
    for (const [name, ms, ratio] of rows)
      console.log(`  ${name.padEnd(14)} ${ms.toFixed(0).padStart(5)} ms  ${ratio.toFixed(2)}x`);
    console.log('sync benchmarks against rsync: not yet (they arrive with the sync layer)');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
