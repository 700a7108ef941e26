// What a task's times may be (src/task/schema.ts): RFC 3339 with any offset, as `date -u -Iseconds`
// and Python's isoformat() print them. Issue 12's defect (`+00:00` times made a task unreadable),
// failing on the code before it: as a file a script wrote, worked through the real CLI, and parsed.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { newMailroom } from '../support/cli.js';
import { scriptedTaskFile as file } from '../support/task-file.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research', 'coder']);
});
afterAll(async () => env.cleanup());

describe('RFC 3339 times with an offset are accepted', () => {
  it('a task with +00:00 times (date -u -Iseconds, Python isoformat) is readable and can be worked', async () => {
    const id = '20261122-101500-py00';
    await writeFile(join(env.root, `agents/research/inbox/${id}.md`), file(id, '2026-11-22T10:15:00+00:00'));
    const ls = await env.mr(['ls', '--agent', 'research', '--json']);
    expect(ls.code).toBe(0);
    const out = JSON.parse(ls.stdout);
    expect(out.problems).toEqual([]);
    expect(out.tasks.map((t: { id: string }) => t.id)).toContain(id);
    const ack = await env.mr(['ack', id, '--as', 'research']);
    expect(ack.code, ack.stderr).toBe(0);
    // mailroom writes Z.
    expect((await env.taskAt(`agents/research/inbox/${id}.md`)).task.history.at(-1)?.at).toMatch(/Z$/);
  });

  it.each([
    ['2026-11-22T10:15:00Z', true],
    ['2026-11-22T10:15:00+00:00', true],
    ['2026-11-22T05:15:00.123-05:00', true],
    ['2026-11-22t10:15:00z', true],
    ['2026-11-22T10:15:00', false],
    ['2026-13-22T10:15:00Z', false],
  ])('parse %s -> readable: %s', (at, ok) => {
    expect(parseTask(file('x1', at), 'x1').ok).toBe(ok);
  });
});
