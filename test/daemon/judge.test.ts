// The daemon's judge as a table: a file found in a box (bytes or a cached task, settled or not), the
// last state seen and the copies, in; a decision out. No disk, no clock.

import { describe, expect, it } from 'vitest';
import type { KnownState } from '../../daemon/hand-edit.js';
import { type Context, type Found, judge } from '../../daemon/judge.js';
import { renderTask } from '../../src/task/render.js';
import type { Task } from '../../src/task/schema.js';

const at = '2026-11-22T10:00:00Z';
const task = (over: Partial<Task> = {}): Task =>
  ({
    id: 't1',
    title: 'Summarise',
    from: 'dispatch',
    to: 'research',
    state: 'queued',
    priority: 'normal',
    created: at,
    attempt: 1,
    max_attempts: 3,
    history: [{ state: 'queued', at, by: 'dispatch' }],
    ...over,
  }) as Task;
const escalatedWhile = (state: Task['state'], now: Task['state']): Task =>
  task({
    state: now,
    escalated: at,
    history: [
      { state: 'queued', at, by: 'dispatch' },
      { state, at, by: 'mailroom', note: 'escalated to human: no progress for 31m' },
    ],
  });

const bytes = (t: Task, body = 'Body.\n') => ({ bytes: Buffer.from(renderTask(t, body)) });

const ctx = (over: Partial<Context> & { knownState?: KnownState; copyCount?: number } = {}): Context => ({
  known: () => over.knownState,
  copies: () => over.copyCount ?? 1,
  isAgent: (name) => ['dispatch', 'research', 'human'].includes(name),
  // The hub's view: research lives on the host vps, dispatch and human here.
  livesHere: (name) => ['dispatch', 'human'].includes(name),
  placeOf: (agent) => (agent === 'research' ? `vps/${agent}` : agent),
  escalateTo: 'human',
  now: new Date(at),
  newId: () => '20261122-100000-abcd',
  ...over,
});

const found = (over: Partial<Found>): Found => ({
  agent: 'research',
  box: 'inbox',
  name: 't1',
  settled: true,
  read: { cached: task() },
  ...over,
});

/** Fields the judgement must have (a partial match). */
type Want = Record<string, unknown>;

const cases: [string, Found, Context, Want][] = [
  [
    'a queued task in its worker inbox stays, for the supervisor',
    found({}),
    ctx(),
    { kind: 'task', route: [] },
  ],
  [
    'a done task in its worker inbox goes to the outbox, then to its sender',
    found({ read: { cached: task({ state: 'done' }) } }),
    ctx(),
    {
      kind: 'task',
      route: [
        { agent: 'research', box: 'outbox' },
        { agent: 'dispatch', box: 'inbox' },
      ],
    },
  ],
  [
    'a failed task in its worker inbox goes to the outbox and stays there (the supervisor retries it)',
    found({ read: { cached: task({ state: 'failed' }) } }),
    ctx(),
    { kind: 'task', route: [{ agent: 'research', box: 'outbox' }] },
  ],
  [
    'a done task in an outbox goes to its sender',
    found({ box: 'outbox', read: { cached: task({ state: 'done' }) } }),
    ctx(),
    { kind: 'task', route: [{ agent: 'dispatch', box: 'inbox' }] },
  ],
  [
    'a done task whose sender is not configured stays, with a problem',
    found({ box: 'outbox', read: { cached: task({ state: 'done', from: 'ghost' }) } }),
    ctx(),
    { kind: 'task', route: [], problem: 'cannot route: sender "ghost" is not a configured agent' },
  ],
  [
    'a done task home in its sender inbox stays, and is looked for in the archive once per version',
    found({ agent: 'dispatch', read: bytes(task({ state: 'done' })) }),
    ctx(),
    { kind: 'task', route: [], checkArchive: true },
  ],
  [
    'a cached done task home in its sender inbox is not looked for in the archive again',
    found({ agent: 'dispatch', read: { cached: task({ state: 'done' }) } }),
    ctx(),
    { kind: 'task', route: [], checkArchive: false },
  ],
  ['a task with two files is healed first', found({}), ctx({ copyCount: 2 }), { kind: 'task', heal: true }],
  [
    'human-finished: an escalated running task the person marked done in their inbox goes to their outbox, then to the sender',
    found({ agent: 'human', read: { cached: escalatedWhile('running', 'done') } }),
    ctx(),
    {
      kind: 'task',
      route: [
        { agent: 'human', box: 'outbox' },
        { agent: 'dispatch', box: 'inbox' },
      ],
    },
  ],
  [
    'human-finished: an escalated task the person marked failed goes back to the sender too (no one retries an escalated task)',
    found({ agent: 'human', read: { cached: escalatedWhile('running', 'failed') } }),
    ctx(),
    {
      kind: 'task',
      route: [
        { agent: 'human', box: 'outbox' },
        { agent: 'dispatch', box: 'inbox' },
      ],
    },
  ],
  [
    'a task escalated because it failed stays with the person until they retry, reassign or archive it',
    found({ agent: 'human', read: { cached: escalatedWhile('failed', 'failed') } }),
    ctx(),
    { kind: 'task', route: [] },
  ],
  [
    'a state moved backwards by an edit is illegal',
    found({ read: { cached: task({ state: 'queued' }) } }),
    ctx({ knownState: { state: 'running', attempt: 1, to: 'research' } }),
    { kind: 'illegal' },
  ],
  [
    'a task file not yet settled is still judged (only reports and completions wait)',
    found({ settled: false, read: bytes(task()) }),
    ctx(),
    { kind: 'task' },
  ],
  [
    'binary bytes, settled: reported',
    found({ read: { bytes: Buffer.from([0x2d, 0, 1]) } }),
    ctx(),
    { kind: 'report', reason: 'binary file (contains NUL bytes), not a task' },
  ],
  [
    'binary bytes, settling: wait',
    found({ settled: false, read: { bytes: Buffer.from([0]) } }),
    ctx(),
    { kind: 'wait' },
  ],
  [
    'a body dropped into an inbox, settled: completed into a task',
    found({ name: 'note', read: { bytes: Buffer.from('Look into the flaky sync\n') } }),
    ctx({ copyCount: 1 }),
    { kind: 'complete', id: 'note' },
  ],
  [
    'a body dropped into an inbox, settling: wait',
    found({ name: 'note', settled: false, read: { bytes: Buffer.from('Look into it\n') } }),
    ctx(),
    { kind: 'wait' },
  ],
  [
    'an empty file in an inbox: wait (an editor may be about to write)',
    found({ name: 'note', read: { bytes: Buffer.alloc(0) } }),
    ctx(),
    { kind: 'wait' },
  ],
  [
    'a body in an outbox is not completed: reported with its line',
    found({ box: 'outbox', name: 'note', read: { bytes: Buffer.from('just text\n') } }),
    ctx(),
    { kind: 'report', line: 1 },
  ],
  [
    'a broken task in an outbox: reported with the parse error',
    found({ box: 'outbox', read: { bytes: Buffer.from('---\nid: t1\n---\n') } }),
    ctx(),
    { kind: 'report', reason: 'missing required field "title"' },
  ],
  [
    'a file name that is not a task id, in an outbox: reported',
    found({ box: 'outbox', name: 'a b', read: bytes(task()) }),
    ctx(),
    { kind: 'report', reason: 'file name is not a valid task id (letters, digits, . _ - only)' },
  ],
  [
    'delivery: a queued task in its far sender outbox, for an agent living here, goes into that inbox',
    found({ box: 'outbox', read: { cached: task({ from: 'research', to: 'human' }) } }),
    ctx(),
    {
      kind: 'task',
      route: [{ agent: 'human', box: 'inbox' }],
      deliver: 'delivered from vps/research',
    },
  ],
  [
    'delivery from a local sender outbox names the agent alone',
    found({ agent: 'dispatch', box: 'outbox', read: { cached: task({ from: 'dispatch', to: 'human' }) } }),
    ctx(),
    { kind: 'task', route: [{ agent: 'human', box: 'inbox' }], deliver: 'delivered from dispatch' },
  ],
  [
    'no delivery on the far side: the recipient lives elsewhere, the task waits in the outbox for sync',
    found({ box: 'outbox', read: { cached: task({ from: 'research', to: 'human' }) } }),
    ctx({ livesHere: (name) => name === 'research' }),
    { kind: 'task', route: [] },
  ],
  [
    'no delivery from an outbox that is not the sender one (a forged place stays put)',
    found({ agent: 'dispatch', box: 'outbox', read: { cached: task({ from: 'research', to: 'human' }) } }),
    ctx(),
    { kind: 'task', route: [] },
  ],
  [
    'no delivery of a queued task still in an inbox (it is already delivered)',
    found({ agent: 'human', box: 'inbox', read: { cached: task({ from: 'research', to: 'human' }) } }),
    ctx(),
    { kind: 'task', route: [] },
  ],
  [
    'no delivery of an acked task in an outbox',
    found({ box: 'outbox', read: { cached: task({ from: 'research', to: 'human', state: 'acked' }) } }),
    ctx(),
    { kind: 'task', route: [] },
  ],
  [
    'no delivery of a task an agent sent itself',
    found({ box: 'outbox', read: { cached: task({ from: 'research', to: 'research' }) } }),
    ctx({ livesHere: () => true }),
    { kind: 'task', route: [] },
  ],
];

describe('the judge', () => {
  it.each(cases)('%s', (_, f, c, want) => {
    expect(judge(f, c)).toMatchObject(want);
  });
});
