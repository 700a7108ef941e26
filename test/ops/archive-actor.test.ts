import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMailroom } from '../../src/mailroom.js';
import { archive, transition } from '../../src/ops/lifecycle.js';
import { sendTask } from '../../src/ops/send.js';
import { newMailroom } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research']);
});
afterAll(async () => env.cleanup());

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

describe('archive checks the actor before the move', () => {
  it('archive --as an unknown agent is refused and leaves the task where it was (was: archived, then exit 2)', async () => {
    const mr = await openMailroom(env.root);
    const { id } = await sendTask(mr, { to: 'research', title: 'file me', from: 'dispatch' });
    await transition(mr, id, 'done');
    const outbox = join(env.root, `agents/research/outbox/${id}.md`);
    expect(await exists(outbox)).toBe(true);
    await expect(archive(mr, id, { as: 'nosuch' })).rejects.toThrow(/nosuch/);
    expect(await exists(outbox)).toBe(true);
    expect(await exists(join(env.root, `agents/research/archive/${id}.md`))).toBe(false);
  });
});
