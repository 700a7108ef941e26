import { spawn } from 'node:child_process';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { newMailroom, REPO, runCli } from '../support/cli.js';

const CHURN = join(REPO, 'test/fixtures/churn.mjs');
const TRIALS = 30;
const TASKS = 8;

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research']);
});
afterAll(async () => env.cleanup());

/** Every file named <id>.md in any box of any agent, with its inode. */
async function copiesOf(ids: string[]) {
  const found = new Map<string, { path: string; ino: number; text: string }[]>();
  for (const agent of await readdir(join(env.root, 'agents'))) {
    for (const box of ['inbox', 'outbox', 'archive']) {
      const dir = join(env.root, 'agents', agent, box);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const id = name.replace(/\.md$/, '');
        if (!name.endsWith('.md') || !ids.includes(id)) continue;
        const path = join(dir, name);
        found.set(id, [
          ...(found.get(id) ?? []),
          { path, ino: (await stat(path)).ino, text: await readFile(path, 'utf8') },
        ]);
      }
    }
  }
  return found;
}

async function removeLocks(): Promise<void> {
  // The killed process held locks; nobody else is running, so they are stale. (Stale takeover itself
  // is proper-lockfile's and takes 10s; waiting that long per trial would only slow the test.)
  for (const agent of await readdir(join(env.root, 'agents'))) {
    for (const box of ['inbox', 'outbox', 'archive']) {
      const dir = join(env.root, 'agents', agent, box);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (name.endsWith('.lock')) await rm(join(dir, name), { recursive: true, force: true });
      }
    }
  }
}

describe('SIGKILL in the middle of writes', () => {
  it(`leaves every task whole, in one place, with every acknowledged change (${TRIALS} kills)`, async () => {
    const ids: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      const id = (
        await env.mr(['send', 'research', `crash target ${i}`, '--body', 'x'.repeat(2000)])
      ).stdout.trim();
      expect((await env.mr(['start', id])).code).toBe(0);
      ids.push(id);
    }
    const acknowledged: string[] = [];
    let changes = 0;
    let duplicatesSeen = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      // Keep some tasks running so there is always something to write.
      const live = await copiesOf(ids);
      for (const id of ids) {
        const copy = live.get(id)![0]!;
        if (copy.path.includes('/archive/')) {
          await rm(copy.path);
          const fresh = (await env.mr(['send', 'research', `crash target ${id}`])).stdout.trim();
          expect((await env.mr(['start', fresh])).code).toBe(0);
          ids[ids.indexOf(id)] = fresh;
        }
      }
      const child = spawn(process.execPath, [CHURN, env.root, String(trial + 1), ...ids], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      // Kill only once the worker has finished at least one change in this trial, so every trial
      // interrupts real work however slow the machine is.
      const working = new Promise<void>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (/^(note|done|archived) /m.test(out)) resolve();
        });
      });
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      await Promise.race([working, exited]);
      // Let it write for a while longer (varies per trial), then kill it without warning.
      await new Promise((r) => setTimeout(r, 30 + ((trial * 37) % 200)));
      child.kill('SIGKILL');
      await exited;
      expect(err).toBe('');
      acknowledged.push(...out.split('\n').filter((l) => l.startsWith('note ')));
      changes += out.split('\n').filter((l) => /^(note|done|archived) /.test(l)).length;

      const copies = await copiesOf(ids);
      for (const id of ids) {
        const list = copies.get(id) ?? [];
        expect(list.length, `task ${id} lost`).toBeGreaterThan(0);
        if (list.length > 1) {
          // Only a move cut between link and unlink may leave two names: one file, two links.
          duplicatesSeen++;
          expect(new Set(list.map((c) => c.ino)).size, `task ${id} duplicated with different content`).toBe(
            1,
          );
        }
        for (const c of list) {
          const parsed = parseTask(c.text, id);
          expect(parsed.ok, `${c.path} is not a whole task: ${parsed.ok ? '' : parsed.problem.reason}`).toBe(
            true,
          );
        }
      }
      await removeLocks();
      const fix = await runCli(['doctor', '--fix', '--root', env.root]);
      expect(fix.stderr).toBe('');
      const after = await copiesOf(ids);
      for (const id of ids) expect(after.get(id), `task ${id} after doctor --fix`).toHaveLength(1);
    }
    // Every change the worker reported as done is in the task's file.
    const final = await copiesOf(ids);
    const allText = [...final.values()].map((l) => l[0]!.text).join('\n');
    const archived = acknowledged.filter((l) => !ids.includes(l.split(' ')[1]!));
    for (const line of acknowledged) {
      if (archived.includes(line)) continue;
      const note = line.split(' ')[2]!;
      expect(allText, `acknowledged note ${note} was lost`).toContain(`note: ${note} }`);
    }
    // Every trial interrupted a worker that had finished at least one change.
    expect(changes).toBeGreaterThanOrEqual(TRIALS);
    console.log(
      `crash test: ${TRIALS} kills, ${acknowledged.length} acknowledged notes all present, ${duplicatesSeen} interrupted moves healed`,
    );
  }, 600_000); // a hang guard: about a minute alone, several times that on a loaded machine
});
