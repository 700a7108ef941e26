import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { newMailroom, REPO } from '../support/cli.js';

const HAMMER = join(REPO, 'test/fixtures/hammer.mjs');
const PROCESSES = 20;
const NOTES_EACH = 5;

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research']);
});
afterAll(async () => env.cleanup());

function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.split('\n').includes(line)) resolve();
    });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
  });
}

/** 20 processes, all released at once, each appending 5 notes to one running task. */
async function hammer(mode: 'lock' | 'nolock'): Promise<string[]> {
  const id = (await env.mr(['send', 'research', `hammer ${mode}`])).stdout.trim();
  expect((await env.mr(['start', id])).code).toBe(0);
  const children = Array.from({ length: PROCESSES }, (_, i) =>
    spawn(process.execPath, [HAMMER, env.root, id, String(NOTES_EACH), mode, `p${i}`], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  await Promise.all(children.map((c) => waitForLine(c, 'ready')));
  const exits = children.map((c) => new Promise<number | null>((r) => c.on('exit', r)));
  for (const c of children) c.stdin!.write('go\n');
  expect(await Promise.all(exits)).toEqual(children.map(() => 0));
  const text = await readFile(join(env.root, `agents/research/inbox/${id}.md`), 'utf8');
  const parsed = parseTask(text, id);
  if (!parsed.ok) throw new Error(`task file invalid after hammering: ${parsed.problem.reason}`);
  return parsed.value.task.history.flatMap((h) => (h.note?.includes(' note ') ? [h.note] : []));
}

describe('concurrent writers on one task', () => {
  it('with the lock: exactly 100 notes, each once, and the file stays valid', async () => {
    const notes = await hammer('lock');
    expect(notes).toHaveLength(PROCESSES * NOTES_EACH);
    expect(new Set(notes).size).toBe(PROCESSES * NOTES_EACH);
    // Each process's own notes are in its order.
    for (let p = 0; p < PROCESSES; p++) {
      const mine = notes.filter((n) => n.startsWith(`p${p} `));
      expect(mine).toEqual(Array.from({ length: NOTES_EACH }, (_, i) => `p${p} note ${i}`));
    }
  });

  it('without the lock the same run loses updates (so the lock is what prevents it)', async () => {
    const notes = await hammer('nolock');
    expect(notes.length).toBeLessThan(PROCESSES * NOTES_EACH);
  });
});
