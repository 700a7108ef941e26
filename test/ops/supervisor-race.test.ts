import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMailroom } from '../../src/mailroom.js';
import { escalate, reassign, transition } from '../../src/ops/lifecycle.js';
import { sendTask } from '../../src/ops/send.js';
import { newMailroom } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research', 'coder']);
});
afterAll(async () => env.cleanup());

describe('supervisor actions re-check the task under its lock', () => {
  it('refuses and writes nothing when the precondition no longer holds (the worker acked meanwhile)', async () => {
    const mr = await openMailroom(env.root);
    const { id, path } = await sendTask(mr, { to: 'research', title: 'race', from: 'dispatch' });
    await transition(mr, id, 'acked'); // the worker acts after the supervisor's scan...
    const before = await readFile(path, 'utf8');
    const stillQueued = (t: { parsed: { task: { state: string } } }) => t.parsed.task.state === 'queued';
    await expect(reassign(mr, id, 'coder', { system: 'mailroom', onlyIf: stillQueued })).rejects.toThrow(
      /changed since it was looked at/,
    );
    await expect(escalate(mr, id, 'not acknowledged', { onlyIf: stillQueued })).rejects.toThrow(
      /changed since/,
    );
    expect(await readFile(path, 'utf8')).toBe(before);
  });

  it('an escalated task can be reassigned back to its own worker, which clears `escalated`', async () => {
    const mr = await openMailroom(env.root);
    const { id } = await sendTask(mr, { to: 'research', title: 'escalate me', from: 'dispatch' });
    const e = await escalate(mr, id, 'testing');
    expect(e.after.agent).toBe('human');
    expect(e.after.parsed.task.escalated).toBeDefined();
    const r = await reassign(mr, id, 'research');
    expect(r.after.path).toBe(join(env.root, `agents/research/inbox/${id}.md`));
    expect(r.after.parsed.task.escalated).toBeUndefined();
  });
});
