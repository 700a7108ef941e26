// `npm run torture`: tries to break mailroom's promises (docs/reliability.md) with crashes, cut
// connections, concurrent writers, conflicting edits, hostile input and attacks, and prints one
// figure line per scenario: trials, failures, losses, duration.
//
//   --seed N     repeat a run (the default seed is fixed and printed); every random choice a scenario
//                makes comes from it (timing of real processes still varies from run to run)
//   --quick      a short run (about 4 minutes) instead of the full one (under 15 minutes on 2 cores)
//   --only S1,S4 run some scenarios only
//   --verbose    per-trial detail
//   --size k=v   override a size, e.g. --size s1Trials=20,s5Files=2000 (keys: see SIZES)
//   --transport agent|sftp|both  how S2 (cut) and S4 (merge) reach the far side (default both:
//                each runs once per transport; S2a and S4a are the far-agent runs)
//
// Exit status: 0 when every scenario kept every promise; 1 when anything was lost or damaged or any
// promise was broken (known, unfixed defects included: the torture reports them until they are fixed).

import { parseArgs } from 'node:util';
import { type Sshd, sshdAvailable, startSshd } from '../test/support/sshd-core.js';
import { Rng } from './rng.js';
import { runS1 } from './scenarios/s1-kill.js';
import { runS2 } from './scenarios/s2-cut.js';
import { runS3 } from './scenarios/s3-hammer.js';
import { runS4 } from './scenarios/s4-merge.js';
import { runS5 } from './scenarios/s5-hostile.js';
import { runS6 } from './scenarios/s6-security.js';
import {
  type DefectId,
  type Figure,
  formatFigure,
  KNOWN_DEFECTS,
  liveDaemons,
  requireBuild,
} from './support.js';

export const DEFAULT_SEED = 20261122;

/** Trial counts: the full run is sized to finish in under 15 minutes on a 2-core machine. */
export const SIZES = {
  full: {
    s1Trials: 25,
    s1Tasks: 1000,
    s2Trials: 20,
    s2Files: 2000,
    s3Rounds: 2,
    s4Rounds: 10,
    s5Files: 10_000,
    s5Big: 4,
    s6Titles: 60,
  },
  quick: {
    s1Trials: 8,
    s1Tasks: 100,
    s2Trials: 4,
    s2Files: 2000,
    s3Rounds: 2,
    s4Rounds: 4,
    s5Files: 1000,
    s5Big: 2,
    s6Titles: 20,
  },
} as const;

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    size: { type: 'string' },
    transport: { type: 'string', default: 'both' },
  },
});
const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
if (!Number.isInteger(seed) || seed < 0) {
  console.error(`--seed must be a whole number >= 0, got ${values.seed}`);
  process.exit(1);
}
const quick = values.quick === true;
const size: Record<keyof typeof SIZES.full, number> = { ...(quick ? SIZES.quick : SIZES.full) };
// --size s1Trials=20,s5Files=2000: override some sizes (for investigating one scenario).
for (const pair of values.size?.split(',') ?? []) {
  const [key, value] = pair.split('=');
  if (!key || !(key in size) || !Number.isInteger(Number(value))) {
    console.error(
      `--size: unknown or bad entry ${JSON.stringify(pair)}; keys: ${Object.keys(size).join(', ')}`,
    );
    process.exit(1);
  }
  size[key as keyof typeof size] = Number(value);
}
const only = values.only?.toUpperCase().split(',');
const want = (id: string) => only === undefined || only.includes(id);
const verbose = values.verbose === true;
if (!['agent', 'sftp', 'both'].includes(values.transport)) {
  console.error(`--transport must be agent, sftp or both, got ${values.transport}`);
  process.exit(1);
}
const transports = (values.transport === 'both' ? ['sftp', 'agent'] : [values.transport]) as (
  | 'agent'
  | 'sftp'
)[];
const log = (line: string) => console.log(line);

requireBuild();
const rng = new Rng(seed);
console.log(
  `mailroom torture, seed ${seed}${quick ? ', quick' : ''}: repeat with \`npm run torture -- --seed ${seed}${quick ? ' --quick' : ''}\``,
);
const started = Date.now();
const figures: Figure[] = [];
let sshd: Sshd | undefined;
const sshScenarios = ['S1', 'S2', 'S3', 'S6'].filter(want);
if (sshScenarios.length > 0) {
  const ok = sshdAvailable();
  if (!ok.ok) {
    console.error(
      `${sshScenarios.join(', ')} need a real sshd: ${ok.reason} (apt-get install -y openssh-server)`,
    );
    process.exit(1);
  }
  sshd = await startSshd();
}
// Never an ssh-agent of the person running this: the test sshd takes only its own key.
process.env.SSH_AUTH_SOCK = '';
// Interrupted (Ctrl-C): stop what this run started (daemons, the sshd), by pid, and leave.
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    console.log(`\n${sig}: stopping the daemons and the sshd this run started`);
    for (const d of liveDaemons) d.child.kill('SIGKILL');
    void (sshd?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });

const run = async (id: string, fn: () => Promise<Figure>) => {
  if (!want(id)) return;
  const f = await fn();
  figures.push(f);
  console.log(formatFigure(f));
  if (f.problems.length > 0 && !verbose)
    for (const p of f.problems.slice(0, 5)) console.log(`    ${p.slice(0, 400)}`);
};
try {
  await run('S1', () =>
    runS1({ rng: rng.fork('S1'), sshd: sshd!, trials: size.s1Trials, tasks: size.s1Tasks, log, verbose }),
  );
  for (const transport of transports)
    await run('S2', () =>
      runS2({
        rng: rng.fork(transport === 'agent' ? 'S2a' : 'S2'),
        sshd: sshd!,
        trials: size.s2Trials,
        files: size.s2Files,
        log,
        verbose,
        transport,
      }),
    );
  await run('S3', () => runS3({ rng: rng.fork('S3'), sshd, trials: size.s3Rounds, log, verbose }));
  for (const transport of transports)
    await run('S4', () =>
      runS4({
        rng: rng.fork(transport === 'agent' ? 'S4a' : 'S4'),
        trials: size.s4Rounds,
        tasks: 200,
        log,
        verbose,
        transport: transport === 'agent' ? 'agent' : 'folder',
      }),
    );
  await run('S5', () => runS5({ rng: rng.fork('S5'), files: size.s5Files, big: size.s5Big, log, verbose }));
  await run('S6', () => runS6({ rng: rng.fork('S6'), sshd, titles: size.s6Titles, log, verbose }));
} finally {
  await sshd?.stop();
}
const losses = figures.reduce((n, f) => n + f.losses, 0);
const failures = figures.reduce((n, f) => n + f.failures, 0);
const trials = figures.reduce((n, f) => n + f.trials, 0);
console.log(
  `total: ${figures.length} scenarios, ${trials} trials, ${failures} failed, ${losses} losses, ${((Date.now() - started) / 1000).toFixed(1)}s`,
);
const hit = new Set(
  figures.flatMap((f) =>
    f.facts.flatMap((x) => [...x.matchAll(/\b(D\d+) x\d+/g)].map((m) => m[1] as DefectId)),
  ),
);
for (const d of [...hit].sort()) console.log(`  ${d}: ${KNOWN_DEFECTS[d]}`);
process.exit(losses > 0 || failures > 0 ? 1 : 0);
