// The sync state's transition (src/sync/transition.ts) as a table: a base, the outcomes apply
// reported, and the base after. Apply never writes the base itself, so these rows are everything a
// pass can do to it.

import { describe, expect, it } from 'vitest';
import type { MergeFields } from '../../src/sync/merge-task.js';
import { type Base, type Outcome, transition } from '../../src/sync/transition.js';

const H1 = '1'.repeat(64);
const H2 = '2'.repeat(64);
const fields: MergeFields = { fields: { title: 'T', state: 'queued' }, bodyHash: H1 };
const A = '20260101-000000-aaaa';
const B = '20260101-000000-bbbb';
const held = (id: string, hash: string, loc = 'w/inbox', rank = 1): Outcome => ({
  kind: 'task-held',
  id,
  loc,
  hash,
  rank,
});

const ROWS: [name: string, before: Base | null, outcomes: Outcome[], after: Base][] = [
  ['no base yet, nothing done: an empty base', null, [], { tasks: {}, files: {} }],
  [
    'no base yet: the first task held',
    null,
    [held(A, H1)],
    { tasks: { [A]: { loc: 'w/inbox', hash: H1, rank: 1 } }, files: {} },
  ],
  [
    'a task held with its fields keeps them for the next merge',
    { tasks: {}, files: {} },
    [{ ...held(A, H1), fields } as Outcome],
    { tasks: { [A]: { loc: 'w/inbox', hash: H1, rank: 1, base: fields } }, files: {} },
  ],
  [
    'a task held again replaces its record whole (old fields do not linger)',
    { tasks: { [A]: { loc: 'w/inbox', hash: H1, rank: 1, base: fields } }, files: {} },
    [held(A, H2, 'w/outbox', 3)],
    { tasks: { [A]: { loc: 'w/outbox', hash: H2, rank: 3 } }, files: {} },
  ],
  [
    'a task gone leaves the others alone',
    {
      tasks: { [A]: { loc: 'w/inbox', hash: H1, rank: 1 }, [B]: { loc: 'w/inbox', hash: H2, rank: 1 } },
      files: {},
    },
    [{ kind: 'task-gone', id: A }],
    { tasks: { [B]: { loc: 'w/inbox', hash: H2, rank: 1 } }, files: {} },
  ],
  [
    'a task gone that the base never had changes nothing',
    { tasks: {}, files: { 'agents/w/inbox/x.files/a': { hash: H1 } } },
    [{ kind: 'task-gone', id: A }],
    { tasks: {}, files: { 'agents/w/inbox/x.files/a': { hash: H1 } } },
  ],
  [
    'the later outcome for the same task wins (held, then gone)',
    { tasks: {}, files: {} },
    [held(A, H1), { kind: 'task-gone', id: A }],
    { tasks: {}, files: {} },
  ],
  [
    'the later outcome for the same task wins (gone, then held)',
    { tasks: { [A]: { loc: 'w/inbox', hash: H1, rank: 1 } }, files: {} },
    [{ kind: 'task-gone', id: A }, held(A, H2)],
    { tasks: { [A]: { loc: 'w/inbox', hash: H2, rank: 1 } }, files: {} },
  ],
  [
    'files: held, replaced and gone; tasks untouched',
    {
      tasks: { [A]: { loc: 'w/inbox', hash: H1, rank: 1 } },
      files: { 'agents/w/inbox/x.files/a': { hash: H1 }, 'agents/w/inbox/x.files/b': { hash: H1 } },
    },
    [
      { kind: 'file-held', path: 'agents/w/inbox/x.files/a', hash: H2 },
      { kind: 'file-gone', path: 'agents/w/inbox/x.files/b' },
      { kind: 'file-held', path: 'agents/w/inbox/x.files/c', hash: H1 },
    ],
    {
      tasks: { [A]: { loc: 'w/inbox', hash: H1, rank: 1 } },
      files: { 'agents/w/inbox/x.files/a': { hash: H2 }, 'agents/w/inbox/x.files/c': { hash: H1 } },
    },
  ],
];

describe('transition', () => {
  it.each(ROWS)('%s', (_name, before, outcomes, after) => {
    expect(transition(structuredClone(before), outcomes)).toEqual(after);
  });

  it('changes the base it is given, and nothing of the outcomes', () => {
    const base: Base = { tasks: {}, files: {} };
    const outcomes: Outcome[] = [{ ...held(A, H1), fields } as Outcome];
    const frozen = structuredClone(outcomes);
    expect(transition(base, outcomes)).toBe(base);
    expect(base.tasks[A]?.hash).toBe(H1);
    expect(outcomes).toEqual(frozen);
  });
});
