import { describe, expect, it } from 'vitest';
import type { Box } from '../../src/store/layout.js';
import {
  type Action,
  type Decision,
  decide,
  type SupervisedTask,
  type SupervisorPolicy,
} from '../../src/supervisor/decide.js';
import { reassignNote } from '../../src/supervisor/reasons.js';
import { type Task, TaskSchema } from '../../src/task/schema.js';
import type { TaskState } from '../../src/task/state.js';

// Every time in these tables is an offset from T0, written like durations: '5m', '5m1s', '5m1ms'.
const T0 = Date.parse('2026-11-22T10:00:00Z');
const UNIT: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
function offset(spec: string): number {
  let total = 0;
  for (const [, n, unit] of spec.matchAll(/(\d+)(ms|d|h|m|s)/g))
    total += Number(n) * (UNIT[unit ?? ''] ?? NaN);
  return total;
}
const time = (spec: string) => new Date(T0 + offset(spec));
const iso = (spec: string) => time(spec).toISOString();

type Entry = [state: TaskState, at: string, note?: string];

/** A task as the parser would hand it over (defaults applied), with history written as [state, at, note]. */
function mk(fields: Record<string, unknown> & { history?: Entry[] }): Task {
  const { history = [['queued', '0']], ...rest } = fields;
  return TaskSchema.parse({
    id: 't1',
    title: 'Summarise five articles',
    from: 'dispatch',
    to: 'ra',
    state: 'queued',
    created: iso('0'),
    history: history.map(([state, at, note]) => ({
      state,
      at: iso(at),
      by: 'someone',
      ...(note === undefined ? {} : { note }),
    })),
    ...rest,
  });
}

/** A task where it lives: by default in its worker's inbox. */
function where(task: Task, box: Box = 'inbox', agent: string = task.to): SupervisedTask {
  return { id: task.id, agent, box, task };
}

// Listed out of name order on purpose: the rotation must sort by name, not follow the file.
const AGENTS: SupervisorPolicy['agents'] = {
  rc: { role: 'research' },
  dispatch: {},
  human: null,
  ra: { role: 'research' },
  solo: { role: 'writer' },
  rb: { role: 'research' },
};

const POLICY: SupervisorPolicy = {
  escalateTo: 'human',
  onStuck: 'escalate',
  retryBackoffMs: 60_000,
  retryElsewhere: false,
  agents: AGENTS,
};

interface Case {
  name: string;
  tasks: SupervisedTask[];
  now: string;
  policy?: Partial<SupervisorPolicy>;
  actions?: Action[];
  /** Workers presumed down: an agent (for task t1), or [agent, id]. */
  down?: (string | [string, string])[];
  /** Offset of the expected nextCheckAt; absent means none. */
  next?: string;
}

const queued = (fields: Record<string, unknown> & { history?: Entry[] } = {}) => where(mk(fields));
const running = (history: Entry[], fields: Record<string, unknown> = {}) =>
  where(mk({ state: 'running', history, ...fields }));
const failed = (fields: Record<string, unknown>, failedAt = '10m') =>
  where(
    mk({
      state: 'failed',
      history: [
        ['queued', '0'],
        ['running', '1m'],
        ['failed', failedAt],
      ],
      ...fields,
    }),
    'outbox',
  );
const ACK = (worker: string, timeout = '5m') =>
  `not acknowledged within ${timeout} (worker ${worker} presumed down)`;
const E429 = { message: 'HTTP 429', retryable: true };

const cases: Case[] = [
  // --- queued: the acknowledgement deadline -------------------------------------------------------
  {
    name: 'queued, 1s before ack_timeout: nothing yet, wake just after the deadline',
    tasks: [queued({ to: 'solo' })],
    now: '4m59s',
    next: '5m1ms',
  },
  {
    name: 'queued, exactly at ack_timeout: still in time ("longer than")',
    tasks: [queued({ to: 'solo' })],
    now: '5m',
    next: '5m1ms',
  },
  {
    name: 'queued, 1s after ack_timeout, no role mate: worker down, escalated',
    tasks: [queued({ to: 'solo' })],
    now: '5m1s',
    down: ['solo'],
    actions: [{ kind: 'escalate', id: 't1', reason: ACK('solo'), cause: 'ack_timeout' }],
  },
  {
    name: 'queued, the first millisecond after ack_timeout already counts',
    tasks: [queued({ to: 'solo' })],
    now: '5m1ms',
    down: ['solo'],
    actions: [{ kind: 'escalate', id: 't1', reason: ACK('solo'), cause: 'ack_timeout' }],
  },
  {
    name: "queued, the task's own ack_timeout is used (90s)",
    tasks: [queued({ to: 'solo', ack_timeout: '90s' })],
    now: '1m31s',
    down: ['solo'],
    actions: [{ kind: 'escalate', id: 't1', reason: ACK('solo', '90s'), cause: 'ack_timeout' }],
  },
  {
    name: 'queued, worker without a role: escalated',
    tasks: [queued({ to: 'dispatch', from: 'solo' })],
    now: '6m',
    down: ['dispatch'],
    actions: [{ kind: 'escalate', id: 't1', reason: ACK('dispatch'), cause: 'ack_timeout' }],
  },
  {
    name: 'queued, worker missing from the configuration: escalated',
    tasks: [queued({ to: 'ghost' })],
    now: '6m',
    down: ['ghost'],
    actions: [{ kind: 'escalate', id: 't1', reason: ACK('ghost'), cause: 'ack_timeout' }],
  },
  {
    name: 'queued since the last history entry (a retry), not since created',
    tasks: [
      queued({
        to: 'solo',
        attempt: 2,
        history: [
          ['queued', '0'],
          ['failed', '10m'],
          ['queued', '1h', 'retry, attempt 2 of 3'],
        ],
      }),
    ],
    now: '1h5m',
    next: '1h5m1ms',
  },
  {
    name: 'queued with no history: created is the start',
    tasks: [queued({ to: 'solo', created: iso('2m'), history: [] })],
    now: '7m',
    next: '7m1ms',
  },
  // --- queued: role mates ---------------------------------------------------------------------------
  {
    name: 'queued late with role mates: reassigned to the next one by name (ra -> rb)',
    tasks: [queued({ to: 'ra' })],
    now: '6m',
    down: ['ra'],
    actions: [{ kind: 'reassign', id: 't1', from: 'ra', to: 'rb', reason: ACK('ra'), cause: 'ack_timeout' }],
  },
  {
    name: 'role mates in name order (rb -> rc)',
    tasks: [queued({ to: 'rb' })],
    now: '6m',
    down: ['rb'],
    actions: [{ kind: 'reassign', id: 't1', from: 'rb', to: 'rc', reason: ACK('rb'), cause: 'ack_timeout' }],
  },
  {
    name: 'role mates wrap round (rc -> ra)',
    tasks: [queued({ to: 'rc' })],
    now: '6m',
    down: ['rc'],
    actions: [{ kind: 'reassign', id: 't1', from: 'rc', to: 'ra', reason: ACK('rc'), cause: 'ack_timeout' }],
  },
  {
    name: 'ping-pong: one earlier reassignment out of two mates, still reassigned',
    tasks: [
      queued({
        to: 'rb',
        history: [
          ['queued', '0'],
          ['queued', '6m', reassignNote('ra', 'rb', ACK('ra'))],
        ],
      }),
    ],
    now: '11m1s',
    down: ['rb'],
    actions: [{ kind: 'reassign', id: 't1', from: 'rb', to: 'rc', reason: ACK('rb'), cause: 'ack_timeout' }],
  },
  {
    name: 'ping-pong limit: reassigned as many times as there are mates, escalated instead',
    tasks: [
      queued({
        to: 'rc',
        history: [
          ['queued', '0'],
          ['queued', '6m', 'reassigned from ra to rb: not acknowledged within 5m'],
          ['queued', '12m', 'reassigned from rb to rc: not acknowledged within 5m'],
        ],
      }),
    ],
    now: '17m1s',
    down: ['rc'],
    actions: [
      {
        kind: 'escalate',
        id: 't1',
        reason: `${ACK('rc')}; already reassigned 2 times within role research`,
        cause: 'ack_timeout',
      },
    ],
  },
  {
    name: 'ping-pong limit counts manual reassignments too (note "reassigned from ...")',
    tasks: [
      queued({
        to: 'ra',
        history: [
          ['queued', '0'],
          ['queued', '1m', 'reassigned from rb to rc'],
          ['queued', '2m', 'reassigned from rc to ra'],
        ],
      }),
    ],
    now: '8m',
    down: ['ra'],
    actions: [
      {
        kind: 'escalate',
        id: 't1',
        reason: `${ACK('ra')}; already reassigned 2 times within role research`,
        cause: 'ack_timeout',
      },
    ],
  },
  {
    name: 'notes that merely mention reassignment do not count',
    tasks: [
      queued({
        to: 'ra',
        history: [
          ['queued', '0', 'not reassigned yet'],
          ['queued', '1m', 'retry, attempt 2 of 3 after: reassigned elsewhere'],
        ],
      }),
    ],
    now: '7m',
    down: ['ra'],
    actions: [{ kind: 'reassign', id: 't1', from: 'ra', to: 'rb', reason: ACK('ra'), cause: 'ack_timeout' }],
  },
  // --- queued: where the file is ------------------------------------------------------------------
  {
    name: "queued but in another agent's inbox (in transit): not judged",
    tasks: [where(mk({ to: 'solo' }), 'inbox', 'dispatch')],
    now: '1h',
  },
  {
    name: 'queued but in an outbox: not judged',
    tasks: [where(mk({ to: 'solo' }), 'outbox')],
    now: '1h',
  },
  {
    name: 'queued for the escalation agent itself: no lease, nothing to escalate to',
    tasks: [queued({ to: 'human' })],
    now: '1d',
  },
  // --- running: the lease -------------------------------------------------------------------------
  {
    name: 'running, exactly at run_timeout since the last entry: still in time',
    tasks: [
      running([
        ['queued', '0'],
        ['running', '1m'],
      ]),
    ],
    now: '31m',
    next: '31m1ms',
  },
  {
    name: 'running, 1s after run_timeout: escalated',
    tasks: [
      running([
        ['queued', '0'],
        ['running', '1m'],
      ]),
    ],
    now: '31m1s',
    actions: [
      {
        kind: 'escalate',
        id: 't1',
        reason: 'no progress for 30m 1s (run_timeout 30m)',
        cause: 'run_timeout',
      },
    ],
  },
  {
    name: 'running, the reason says how long it has been quiet',
    tasks: [running([['running', '0']])],
    now: '31m',
    actions: [
      { kind: 'escalate', id: 't1', reason: 'no progress for 31m (run_timeout 30m)', cause: 'run_timeout' },
    ],
  },
  {
    name: 'running, a progress note renews the lease',
    tasks: [
      running([
        ['queued', '0'],
        ['running', '1m'],
        ['running', '20m', 'page 42/100'],
      ]),
    ],
    now: '45m',
    next: '50m1ms',
  },
  {
    name: 'running, the renewed lease runs out in its turn',
    tasks: [
      running([
        ['queued', '0'],
        ['running', '1m'],
        ['running', '20m', 'page 42/100'],
      ]),
    ],
    now: '50m1s',
    actions: [
      {
        kind: 'escalate',
        id: 't1',
        reason: 'no progress for 30m 1s (run_timeout 30m)',
        cause: 'run_timeout',
      },
    ],
  },
  {
    name: "running, the task's own run_timeout (2h)",
    tasks: [running([['running', '0']], { run_timeout: '2h' })],
    now: '1h59m',
    next: '2h1ms',
  },
  {
    name: 'running stuck, on_stuck reassign with a role mate: reassigned, no worker.down',
    tasks: [running([['running', '0']], { to: 'rb' })],
    policy: { onStuck: 'reassign' },
    now: '31m',
    actions: [
      {
        kind: 'reassign',
        id: 't1',
        from: 'rb',
        to: 'rc',
        reason: 'no progress for 31m (run_timeout 30m)',
        cause: 'run_timeout',
      },
    ],
  },
  {
    name: 'running stuck, on_stuck reassign without a role mate: escalated',
    tasks: [running([['running', '0']], { to: 'solo' })],
    policy: { onStuck: 'reassign' },
    now: '31m',
    actions: [
      { kind: 'escalate', id: 't1', reason: 'no progress for 31m (run_timeout 30m)', cause: 'run_timeout' },
    ],
  },
  {
    name: 'running stuck, on_stuck reassign but the role is used up: escalated',
    tasks: [
      running(
        [
          ['queued', '0', 'reassigned from ra to rb: no progress for 31m (run_timeout 30m)'],
          ['queued', '0', 'reassigned from rb to rc: no progress for 31m (run_timeout 30m)'],
          ['running', '0'],
        ],
        { to: 'rc' },
      ),
    ],
    policy: { onStuck: 'reassign' },
    now: '31m',
    actions: [
      {
        kind: 'escalate',
        id: 't1',
        reason: 'no progress for 31m (run_timeout 30m); already reassigned 2 times within role research',
        cause: 'run_timeout',
      },
    ],
  },
  {
    name: 'running for the escalation agent itself: no lease',
    tasks: [running([['running', '0']], { to: 'human' })],
    now: '1d',
  },
  // --- failed: retries ----------------------------------------------------------------------------
  {
    name: 'failed retryable, attempt 1: waits the first backoff (1m)',
    tasks: [failed({ error: E429 })],
    now: '10m59s',
    next: '11m',
  },
  {
    name: 'failed retryable, attempt 1: retried once 1m has passed, same worker',
    tasks: [failed({ error: E429 })],
    now: '11m',
    actions: [
      { kind: 'retry', id: 't1', to: 'ra', reason: 'retry after a 1m backoff, attempt 2 of 3: HTTP 429' },
    ],
  },
  {
    name: 'failed retryable, attempt 2: the backoff doubles (2m)',
    tasks: [failed({ error: E429, attempt: 2 })],
    now: '11m59s',
    next: '12m',
  },
  {
    name: 'failed retryable, attempt 2: retried at 2m',
    tasks: [failed({ error: E429, attempt: 2 })],
    now: '12m',
    actions: [
      { kind: 'retry', id: 't1', to: 'ra', reason: 'retry after a 2m backoff, attempt 3 of 3: HTTP 429' },
    ],
  },
  {
    name: 'failed retryable, attempt 3 of 5: 4m',
    tasks: [failed({ error: E429, attempt: 3, max_attempts: 5 })],
    now: '13m59s',
    next: '14m',
  },
  {
    name: 'failed retryable, the configured backoff is the base (retry_backoff 10s)',
    tasks: [failed({ error: E429, attempt: 2 })],
    policy: { retryBackoffMs: 10_000 },
    now: '10m20s',
    actions: [
      { kind: 'retry', id: 't1', to: 'ra', reason: 'retry after a 20s backoff, attempt 3 of 3: HTTP 429' },
    ],
  },
  {
    name: 'failed retryable: the clock starts at the failed entry, not at created',
    tasks: [failed({ error: E429, created: iso('0') }, '2h')],
    now: '2h30s',
    next: '2h1m',
  },
  {
    name: 'failed retryable with no failed entry (hand-written): the last entry is the start',
    tasks: [
      where(
        mk({
          state: 'failed',
          error: E429,
          history: [
            ['queued', '0'],
            ['running', '3m'],
          ],
        }),
        'inbox',
        'dispatch',
      ),
    ],
    now: '3m30s',
    next: '4m',
  },
  {
    name: 'retry_elsewhere: retried on the next agent of the role',
    tasks: [failed({ error: E429, to: 'rc' })],
    policy: { retryElsewhere: true },
    now: '11m',
    actions: [
      {
        kind: 'retry',
        id: 't1',
        to: 'ra',
        reason: 'retry on ra after a 1m backoff, attempt 2 of 3: HTTP 429',
      },
    ],
  },
  {
    name: 'retry_elsewhere without a role mate: the same worker',
    tasks: [failed({ error: E429, to: 'solo' })],
    policy: { retryElsewhere: true },
    now: '11m',
    actions: [
      { kind: 'retry', id: 't1', to: 'solo', reason: 'retry after a 1m backoff, attempt 2 of 3: HTTP 429' },
    ],
  },
  // --- failed: escalation -------------------------------------------------------------------------
  {
    name: 'failed retryable but attempts used up (3 of 3): escalated at once',
    tasks: [failed({ error: E429, attempt: 3 })],
    now: '10m',
    actions: [{ kind: 'escalate', id: 't1', reason: 'failed 3 of 3 attempts: HTTP 429', cause: 'failed' }],
  },
  {
    name: 'failed not retryable: escalated at once',
    tasks: [failed({ error: { message: 'HTTP 500', retryable: false } })],
    now: '10m',
    actions: [{ kind: 'escalate', id: 't1', reason: 'failed and not retryable: HTTP 500', cause: 'failed' }],
  },
  {
    name: 'failed with retryable unset: not retryable',
    tasks: [failed({ error: { message: 'HTTP 500' } })],
    now: '10m',
    actions: [{ kind: 'escalate', id: 't1', reason: 'failed and not retryable: HTTP 500', cause: 'failed' }],
  },
  {
    name: 'failed without error context: escalated, the reason says so',
    tasks: [failed({})],
    now: '10m',
    actions: [
      { kind: 'escalate', id: 't1', reason: 'failed and not retryable: no error message', cause: 'failed' },
    ],
  },
  {
    name: 'a multi-line error message becomes one line in the reason',
    tasks: [failed({ error: { message: 'HTTP 500\n  upstream said:\r\n  no' } })],
    now: '10m',
    actions: [
      {
        kind: 'escalate',
        id: 't1',
        reason: 'failed and not retryable: HTTP 500 upstream said: no',
        cause: 'failed',
      },
    ],
  },
  // --- skipped ------------------------------------------------------------------------------------
  { name: 'done: nothing', tasks: [where(mk({ state: 'done' }), 'outbox')], now: '1d' },
  { name: 'acked: no timer in the spec', tasks: [queued({ state: 'acked' })], now: '1d' },
  {
    name: 'archived: never judged',
    tasks: [where(mk({ state: 'failed', error: { message: 'HTTP 500' } }), 'archive', 'dispatch')],
    now: '1d',
  },
  {
    name: 'already escalated (escalated: <time>): left to the person',
    tasks: [failed({ error: { message: 'HTTP 500' }, escalated: iso('10m') })],
    now: '1d',
  },
  {
    name: 'already escalated queued task: no worker.down either',
    tasks: [queued({ to: 'solo', escalated: iso('6m') })],
    now: '1d',
  },
  {
    name: 'escalated: false is not escalated',
    tasks: [queued({ to: 'solo', escalated: false })],
    now: '6m',
    down: ['solo'],
    actions: [{ kind: 'escalate', id: 't1', reason: ACK('solo'), cause: 'ack_timeout' }],
  },
  {
    name: 'a crash duplicate (same id in two live places) waits for routing to resolve it',
    tasks: [
      where(mk({ state: 'failed', error: { message: 'x' } }), 'outbox', 'ra'),
      where(mk({ state: 'failed', error: { message: 'x' } }), 'inbox', 'dispatch'),
    ],
    now: '1d',
  },
  {
    name: 'an archived copy does not make a duplicate',
    tasks: [where(mk({ state: 'done' }), 'archive', 'dispatch'), failed({ error: { message: 'HTTP 500' } })],
    now: '10m',
    actions: [{ kind: 'escalate', id: 't1', reason: 'failed and not retryable: HTTP 500', cause: 'failed' }],
  },
  {
    name: 'an unparseable ack_timeout is skipped, not guessed',
    tasks: [where({ ...mk({ to: 'solo' }), ack_timeout: 'soon' })],
    now: '1d',
  },
  {
    name: 'an unparseable history time is skipped',
    tasks: [where({ ...mk({ to: 'solo' }), history: [{ state: 'queued', at: 'yesterday', by: 'x' }] })],
    now: '1d',
  },
  {
    name: 'an unparseable run_timeout is skipped',
    tasks: [where({ ...mk({ state: 'running' }), run_timeout: '' })],
    now: '1d',
  },
  // --- several tasks ------------------------------------------------------------------------------
  {
    name: 'several tasks: actions in input order, nextCheckAt is the earliest pending deadline',
    tasks: [
      where(mk({ id: 'a', state: 'failed', error: { message: 'HTTP 500' } }), 'outbox'),
      where(mk({ id: 'b', to: 'solo' })),
      where(mk({ id: 'c', to: 'solo', created: iso('3m'), history: [] })),
      where(mk({ id: 'd', state: 'running', history: [['running', '0']] })),
      where(mk({ id: 'e', state: 'failed', error: E429, history: [['failed', '6m']] }), 'outbox'),
      where(mk({ id: 'f', to: 'ra' })),
    ],
    now: '6m',
    down: [
      ['solo', 'b'],
      ['ra', 'f'],
    ],
    actions: [
      { kind: 'escalate', id: 'a', reason: 'failed and not retryable: HTTP 500', cause: 'failed' },
      { kind: 'escalate', id: 'b', reason: ACK('solo'), cause: 'ack_timeout' },
      { kind: 'reassign', id: 'f', from: 'ra', to: 'rb', reason: ACK('ra'), cause: 'ack_timeout' },
    ],
    next: '7m',
  },
  { name: 'no tasks: nothing, no wake-up', tasks: [], now: '0' },
];

function expected(c: Case): Decision {
  const workerDown = (c.down ?? []).map((d) =>
    typeof d === 'string' ? { agent: d, id: 't1' } : { agent: d[0], id: d[1] },
  );
  const d: Decision = { actions: c.actions ?? [], workerDown };
  if (c.next !== undefined) d.nextCheckAt = time(c.next);
  return d;
}

describe('decide', () => {
  it.each(cases)('$name', (c) => {
    const decision = decide(c.tasks, { ...POLICY, ...c.policy }, time(c.now));
    expect(decision).toEqual(expected(c));
    // undefined and absent look alike to toEqual; the daemon should see a missing key.
    if (c.next === undefined) expect(decision).not.toHaveProperty('nextCheckAt');
  });

  // nextCheckAt is a promise to the daemon: sleeping until then and asking again finds work.
  const pending = cases.filter((c) => c.next !== undefined);
  it.each(pending)('at nextCheckAt something fires, a millisecond before nothing does: $name', (c) => {
    const policy = { ...POLICY, ...c.policy };
    const next = decide(c.tasks, policy, time(c.now)).nextCheckAt;
    expect(next).toBeInstanceOf(Date);
    const at = next as Date;
    expect(decide(c.tasks, policy, at).actions.length).toBeGreaterThan(c.actions?.length ?? 0);
    const before = decide(c.tasks, policy, new Date(at.getTime() - 1));
    expect(before.actions).toHaveLength(c.actions?.length ?? 0);
  });

  it('a task whose workers never answer visits each role mate once, then goes to a person', () => {
    let task = mk({ to: 'rb' });
    let now = 0;
    const visited: string[] = [task.to];
    for (let pass = 0; pass < 10; pass++) {
      now += 6 * 60_000;
      const [action] = decide([where(task)], POLICY, new Date(T0 + now)).actions;
      if (action?.kind !== 'reassign') {
        expect(action).toMatchObject({ kind: 'escalate', cause: 'ack_timeout' });
        break;
      }
      // What the daemon does: the reassign op with the supervisor's note.
      const at = new Date(T0 + now).toISOString();
      const entry = {
        state: 'queued' as const,
        at,
        by: 'supervisor',
        note: reassignNote(action.from, action.to, action.reason),
      };
      task = { ...task, to: action.to, history: [...task.history, entry] };
      visited.push(task.to);
    }
    expect(visited).toEqual(['rb', 'rc', 'ra']);
  });

  it('is pure: the same input gives the same answer, and the input is not changed', () => {
    const tasks = [queued({ to: 'ra' }), failed({ id: 't2', error: E429 })];
    const snapshot = structuredClone(tasks);
    const a = decide(tasks, POLICY, time('6m'));
    const b = decide(tasks, POLICY, time('6m'));
    expect(a).toEqual(b);
    expect(tasks).toEqual(snapshot);
  });
});
