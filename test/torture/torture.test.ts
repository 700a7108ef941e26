// The bounded torture: every scenario of `npm run torture` (torture/), with a few trials each, inside
// `npm test`. The same code as the full run, with smaller sizes; the SSH scenarios run against a
// private sshd (skipped with a warning on a machine without one, a failure under CI=true).
//
// Every defect the torture found (torture/support.ts KNOWN_DEFECTS) is fixed and has its regression
// test beside the module it protects, its name starting with the defect's id (`D1: ...`; grep for
// it), so nothing is tolerated here: a defect that comes back fails this file.
// (TOLERATE is where a newly found, not yet fixed defect would go, with an `it.fails` test for it; a
// tolerated defect never hides a loss: losses fail the test whatever their cause.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../torture/rng.js';
import { runS1 } from '../../torture/scenarios/s1-kill.js';
import { runS2 } from '../../torture/scenarios/s2-cut.js';
import { runS3 } from '../../torture/scenarios/s3-hammer.js';
import { runS4 } from '../../torture/scenarios/s4-merge.js';
import { runS5 } from '../../torture/scenarios/s5-hostile.js';
import { runS6 } from '../../torture/scenarios/s6-security.js';
import { type DefectId, type Figure, formatFigure, requireBuild } from '../../torture/support.js';
import { describeWithSshd } from '../support/sshd.js';

// Hang guards, not performance limits: each scenario takes a minute or two alone, and several times
// that on a busy machine (npm run test:loaded); the figures are in the output, not in a deadline.
const HANG_GUARD = 600_000;

const SEED = 20261122;
const TOLERATE: ReadonlySet<DefectId> = new Set();
const lines: string[] = [];
const log = (line: string) => lines.push(line);

function expectClean(f: Figure): void {
  console.log(formatFigure(f));
  const detail = `${formatFigure(f)}\n${f.problems.join('\n')}\n${lines.join('\n')}`;
  expect(f.losses, detail).toBe(0);
  expect(f.failures, detail).toBe(0);
  expect(f.trials).toBeGreaterThan(0);
}

let savedAgent: string | undefined;
beforeAll(() => {
  requireBuild();
  savedAgent = process.env.SSH_AUTH_SOCK;
  process.env.SSH_AUTH_SOCK = '';
});
afterAll(() => {
  if (savedAgent === undefined) delete process.env.SSH_AUTH_SOCK;
  else process.env.SSH_AUTH_SOCK = savedAgent;
});

describe('torture, bounded (no SSH)', () => {
  it(
    'S3: 20 processes hammer one task while it syncs to a far folder: no lost update',
    async () => {
      expectClean(
        await runS3({ rng: new Rng(SEED).fork('S3'), trials: 1, steps: 2, log, tolerate: TOLERATE }),
      );
    },
    HANG_GUARD,
  );

  it(
    'S4: both sides edit 60 tasks between passes: the result is what the documented rules say',
    async () => {
      expectClean(await runS4({ rng: new Rng(SEED).fork('S4'), trials: 3, tasks: 60, log }));
    },
    HANG_GUARD,
  );

  it(
    'S5: 400 hostile files under a running daemon: no crash, each bad file reported once, every byte kept',
    async () => {
      expectClean(
        await runS5({ rng: new Rng(SEED).fork('S5'), files: 400, big: 1, log, tolerate: TOLERATE }),
      );
    },
    HANG_GUARD,
  );

  it(
    'S6: traversal, links, foreign folders, lying listings, a YAML bomb, hostile notify titles',
    async () => {
      expectClean(
        await runS6({
          rng: new Rng(SEED).fork('S6'),
          titles: 10,
          cliCommands: 16,
          cases: 'local',
          log,
          tolerate: TOLERATE,
        }),
      );
    },
    HANG_GUARD,
  );
});

describeWithSshd('torture, bounded, over a real sshd', (sshd) => {
  it(
    'S1: the daemon SIGKILLed while it routes and syncs: each task once, whole, no edit lost',
    async () => {
      expectClean(
        await runS1({
          rng: new Rng(SEED).fork('S1'),
          sshd: sshd(),
          trials: 3,
          tasks: 30,
          log,
          tolerate: TOLERATE,
        }),
      );
    },
    HANG_GUARD,
  );

  it(
    'S2: the connection cut at random offsets: whole files on both sides, the next pass completes',
    async () => {
      expectClean(
        await runS2({
          rng: new Rng(SEED).fork('S2'),
          sshd: sshd(),
          trials: 2,
          files: 400,
          bulkEvery: 2,
          log,
        }),
      );
    },
    HANG_GUARD,
  );

  it(
    'S3: the real daemon syncs a task 20 processes hammer: no lost update',
    async () => {
      expectClean(
        await runS3({
          rng: new Rng(SEED).fork('S3d'),
          sshd: sshd(),
          trials: 1,
          mode: 'daemon',
          steps: 4,
          log,
          tolerate: TOLERATE,
        }),
      );
    },
    HANG_GUARD,
  );

  it(
    'S6 with host keys: unknown, changed and revoked keys are refused',
    async () => {
      expectClean(
        await runS6({
          rng: new Rng(SEED).fork('S6'),
          sshd: sshd(),
          titles: 0,
          cases: 'ssh',
          log,
          tolerate: TOLERATE,
        }),
      );
    },
    HANG_GUARD,
  );
});
