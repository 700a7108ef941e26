// `npm run test:loaded`: the whole test suite while the machine is busy, as users' and CI machines
// often are: four processes burning a CPU each and one creating and deleting files as fast as it
// can run beside it. Runs the suite RUNS times in a row (default 1: `npm run test:loaded -- 3`) and
// exits non-zero if any run fails. The load processes are this script's children, ended by pid.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const runs = Number(process.argv[2] ?? '1');
const burner = 'for(;;){Math.sqrt(Math.random())}';
const churner = `
const fs = require('node:fs'), path = require('node:path');
const dir = process.argv[1];
for (let i = 0; ; i++) {
  const f = path.join(dir, 'f' + (i % 500));
  fs.writeFileSync(f, 'x'.repeat(4096));
  if (i % 3 === 0) fs.fsyncSync(fs.openSync(f, 'r'));
  fs.rmSync(path.join(dir, 'f' + ((i + 250) % 500)), { force: true });
}`;

const churnDir = mkdtempSync(join(tmpdir(), 'mailroom-load-'));
const load = [
  ...[1, 2, 3, 4].map(() => spawn(process.execPath, ['-e', burner], { stdio: 'ignore' })),
  spawn(process.execPath, ['-e', churner, churnDir], { stdio: 'ignore' }),
];
const stopLoad = () => {
  for (const p of load) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(churnDir, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  stopLoad();
  process.exit(130);
});

const results = [];
try {
  for (let run = 1; run <= runs; run++) {
    console.log(`\n=== test:loaded run ${run} of ${runs} (4 CPU burners + 1 file churner beside it) ===`);
    const code = await new Promise((resolve) => {
      const vitest = spawn('npx', ['vitest', 'run', ...process.argv.slice(3)], { stdio: 'inherit' });
      vitest.on('close', resolve);
    });
    results.push(code);
  }
} finally {
  stopLoad();
}
console.log(
  `\ntest:loaded: ${results.map((c, i) => `run ${i + 1} ${c === 0 ? 'passed' : 'FAILED'}`).join(', ')}`,
);
process.exitCode = results.every((c) => c === 0) ? 0 : 1;
