// The order `ls` lists tasks in (src/ops/list.ts, byUrgencyThenAge): times compared as instants,
// never as strings, since a task's times may carry any RFC 3339 offset. Issue 12's defect, failing
// on the code before it, through the real CLI.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMailroom } from '../support/cli.js';
import { scriptedTaskFile as file } from '../support/task-file.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research', 'coder']);
});
afterAll(async () => env.cleanup());

describe('RFC 3339 times with an offset are ordered as instants', () => {
  it('times are compared as instants: 11:00+01:00 is older than 10:30Z', async () => {
    const early = '20261122-100000-off1';
    const late = '20261122-100000-off2';
    await writeFile(
      join(env.root, `agents/coder/inbox/${late}.md`),
      file(late, '2026-11-22T10:30:00Z').replaceAll('research', 'coder'),
    );
    await writeFile(
      join(env.root, `agents/coder/inbox/${early}.md`),
      file(early, '2026-11-22T11:00:00+01:00').replaceAll('research', 'coder'),
    );
    const ls = JSON.parse((await env.mr(['ls', '--agent', 'coder', '--state', 'queued', '--json'])).stdout);
    const ids: string[] = ls.tasks.map((t: { id: string }) => t.id);
    expect(ids.filter((id) => id === early || id === late)).toEqual([early, late]);
  });
});
