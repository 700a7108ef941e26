import { describe, expect, it } from 'vitest';
import { baseOf, type MergeFields, mergeTask, unionHistory } from '../../src/sync/merge-task.js';
import { parseTask } from '../../src/task/parse.js';
import type { Task } from '../../src/task/schema.js';

// History entries by name, written as they appear in a file.
const H = {
  queued: '{ state: queued, at: 2026-11-22T10:15:00Z, by: dispatch }',
  acked: '{ state: acked, at: 2026-11-22T10:16:00Z, by: research }',
  running: '{ state: running, at: 2026-11-22T10:17:00Z, by: research }',
  note1: '{ state: running, at: 2026-11-22T10:20:00Z, by: research, note: page 10/100 }',
  note2: '{ state: running, at: 2026-11-22T10:25:00Z, by: research, note: page 50/100 }',
  done: '{ state: done, at: 2026-11-22T10:30:00Z, by: research }',
  failed: '{ state: failed, at: 2026-11-22T10:31:00Z, by: research }',
  retry: '{ state: queued, at: 2026-11-22T10:40:00Z, by: supervisor, note: retry 2/3 }',
  escalate: '{ state: running, at: 2026-11-22T10:26:00Z, by: hub, note: escalated }',
};

interface Spec {
  state?: string;
  attempt?: number;
  title?: string;
  /** Extra frontmatter lines, placed before history. */
  extra?: string[];
  history?: string[];
  body?: string;
}

/** A task file in the canonical layout. */
function doc(spec: Spec = {}): string {
  const lines = [
    '---',
    'id: 20261122-101500-k3f9',
    `title: ${spec.title ?? 'Summarise five articles'}`,
    'from: dispatch',
    'to: research',
    `state: ${spec.state ?? 'running'}`,
    'priority: normal',
    'created: 2026-11-22T10:15:00Z',
    `attempt: ${spec.attempt ?? 1}`,
    ...(spec.extra ?? []),
    'history:',
    ...(spec.history ?? [H.queued, H.acked, H.running]).map((h) => `  - ${h}`),
    '---',
  ];
  return `${lines.join('\n')}\n${spec.body ?? 'Find five articles.\n'}`;
}

function task(text: string): Task {
  const r = parseTask(text);
  if (!r.ok) throw new Error(`does not parse: ${r.problem.reason} (line ${r.problem.line})\n${text}`);
  return r.value.task;
}

const bodyOf = (text: string): string => text.slice(text.indexOf('\n---\n') + 5);
const label = { remoteLabel: 'vps' };
const base = (spec: Spec = {}): MergeFields => baseOf(doc(spec))!;
const ats = (t: Task) =>
  t.history.map((h) => `${h.state}@${h.at.slice(11, 16)}${h.note ? ` ${h.note}` : ''}`);

describe('mergeTask: state and attempt', () => {
  it.each([
    ['both moved on: the one further along wins', 'acked', 'running', 'done', 1, 1, 1, 'done', 1],
    ['further along wins from the local side too', 'acked', 'done', 'running', 1, 1, 1, 'done', 1],
    [
      'done beats failed at an equal attempt (work was delivered)',
      'running',
      'failed',
      'done',
      1,
      1,
      1,
      'done',
      1,
    ],
    [
      'a retry (higher attempt) beats failed although failed is further',
      'running',
      'queued',
      'failed',
      1,
      2,
      1,
      'queued',
      2,
    ],
    [
      'a retry on the remote side beats a local done at attempt 1',
      'running',
      'done',
      'queued',
      1,
      1,
      2,
      'queued',
      2,
    ],
    ['one side changed the state only: that side', 'running', 'running', 'done', 1, 1, 1, 'done', 1],
    ['attempt changed on both: the larger', 'failed', 'queued', 'queued', 1, 2, 3, 'queued', 3],
  ] as const)('%s', (_what, b, l, r, ba, la, ra, wantState, wantAttempt) => {
    const out = mergeTask(
      base({ state: b, attempt: ba }),
      doc({ state: l, attempt: la }),
      doc({ state: r, attempt: ra }),
      label,
    );
    const t = task(out.text);
    expect([t.state, t.attempt]).toEqual([wantState, wantAttempt]);
    expect(out.conflicts).toEqual([]);
  });

  it('the error block follows the winning state: a retry drops the stale failure', () => {
    const local = doc({ state: 'queued', attempt: 2, history: [H.queued, H.failed, H.retry] });
    const remote = doc({
      state: 'failed',
      extra: ['error:', '  message: HTTP 429', '  retryable: true'],
      history: [H.queued, H.failed],
    });
    const out = mergeTask(undefined, local, remote, label);
    const t = task(out.text);
    expect([t.state, t.attempt, t.error]).toEqual(['queued', 2, undefined]);
    expect(out.conflicts).toEqual([]);
  });

  it('two different failure accounts: the winner (local on a tie) keeps its error, reported', () => {
    const err = (m: string) => ['error:', `  message: ${m}`, '  retryable: false'];
    const out = mergeTask(
      base(),
      doc({ state: 'failed', extra: err('local disk full') }),
      doc({ state: 'failed', extra: err('remote timeout') }),
      label,
    );
    expect(task(out.text).error?.message).toBe('local disk full');
    expect(out.conflicts).toEqual(['error']);
  });
});

describe('mergeTask: history', () => {
  it('is the union of both sides in time order, shared entries once', () => {
    const out = mergeTask(
      base(),
      doc({ history: [H.queued, H.acked, H.running, H.note2] }),
      doc({ history: [H.queued, H.acked, H.running, H.note1, H.escalate] }),
      label,
    );
    expect(ats(task(out.text))).toEqual([
      'queued@10:15',
      'acked@10:16',
      'running@10:17',
      'running@10:20 page 10/100',
      'running@10:25 page 50/100',
      'running@10:26 escalated',
    ]);
    // Re-rendered in the canonical layout: one flow map per line.
    expect(out.text).toContain(
      `history:\n  - ${H.queued}\n  - ${H.acked}\n  - ${H.running}\n  - ${H.note1}\n`,
    );
  });

  it('appends when the merge is local plus later entries, keeping every existing line', () => {
    const local = doc({ history: [H.queued, H.acked, H.running, H.note1] }).replace(
      `  - ${H.note1}`,
      `  - ${H.note1}   # slow source`,
    );
    const remote = doc({ history: [H.queued, H.acked, H.running, H.note2] });
    const out = mergeTask(base(), local, remote, label);
    expect(out.text).toBe(local.replace('# slow source\n', `# slow source\n  - ${H.note2}\n`));
  });

  it('an earlier entry from the other side re-renders the history in time order', () => {
    const local = doc({ state: 'done', history: [H.queued, H.acked, H.running, H.done] });
    const remote = doc({ history: [H.queued, H.acked, H.running, H.note1] });
    const out = mergeTask(base({ state: 'acked', history: [H.queued, H.acked] }), local, remote, label);
    expect(ats(task(out.text)).slice(-2)).toEqual(['running@10:20 page 10/100', 'done@10:30']);
    expect(out.text).toContain(`  - ${H.running}\n  - ${H.note1}\n  - ${H.done}\n---\n`);
  });

  it('appends the remote-only entries at the end of a local block-style history', () => {
    const local = doc().replace(
      `  - ${H.running}`,
      '  - state: running\n    at: 2026-11-22T10:17:00Z\n    by: research  # started by hand',
    );
    const remote = doc({ history: [H.queued, H.acked, H.running, H.note1] });
    const out = mergeTask(baseOf(local), local, remote, label);
    expect(out.text).toContain('    by: research  # started by hand\n  - state: running\n');
    expect(ats(task(out.text)).at(-1)).toBe('running@10:20 page 10/100');
  });

  it.each([
    ['shared entries are kept once', [H.queued, H.acked], [H.queued, H.acked], [H.queued, H.acked]],
    [
      'an entry repeated on one side keeps its repeats',
      [H.queued, H.note1, H.note1],
      [H.queued, H.note1],
      [H.queued, H.note1, H.note1],
    ],
    [
      'equal times: local first, each side in its own order',
      [H.note1],
      [H.queued, H.note1],
      [H.queued, H.note1],
    ],
  ])('unionHistory: %s', (_what, local, remote, want) => {
    const parse = (xs: string[]) => task(doc({ history: xs })).history;
    expect(unionHistory(parse(local), parse(remote))).toEqual(parse(want));
  });

  it('unionHistory: times are instants (10:00:00.5Z is after 10:00:00Z), ties keep local first', () => {
    const e = (at: string, by: string) => ({ state: 'running', at, by });
    const out = unionHistory(
      [e('2026-11-22T10:00:00.5Z', 'l1'), e('2026-11-22T10:00:01Z', 'l2')],
      [e('2026-11-22T10:00:00Z', 'r1'), e('2026-11-22T10:00:01Z', 'r2')],
    );
    expect(out.map((x) => (x as { by: string }).by)).toEqual(['r1', 'l1', 'l2', 'r2']);
  });
});

describe('mergeTask: other fields', () => {
  const ONE_SIDED: [string, Spec, Spec, { title: string; priority: string; owner?: string }][] = [
    [
      'local changed the title: local',
      { title: 'Local title' },
      {},
      { title: 'Local title', priority: 'normal' },
    ],
    [
      'remote changed the title: remote',
      {},
      { title: 'Remote title' },
      { title: 'Remote title', priority: 'normal' },
    ],
    [
      'each side changed a different field: both changes',
      { title: 'Local title' },
      { extra: ['owner: ana'] },
      { title: 'Local title', priority: 'normal', owner: 'ana' },
    ],
  ];
  it.each(ONE_SIDED)('%s', (_what, l, r, want) => {
    const out = mergeTask(base(), doc(l), doc(r), label);
    const t = task(out.text);
    expect({ title: t.title, priority: t.priority, owner: t.owner }).toEqual({ owner: undefined, ...want });
    expect(out.conflicts).toEqual([]);
  });

  it('a field added on the remote side is inserted before history', () => {
    const out = mergeTask(base(), doc(), doc({ extra: ['owner: ana'] }), label);
    expect(out.text).toContain('attempt: 1\nowner: ana\nhistory:\n');
  });

  it('a field removed on one side and unchanged on the other is removed', () => {
    const b = doc({ extra: ['owner: ana'] });
    const out = mergeTask(baseOf(b), b, doc(), label);
    expect(out.text).not.toContain('owner');
    const out2 = mergeTask(baseOf(b), doc(), b, label);
    expect(out2.text).not.toContain('owner');
  });

  it.each([
    ['equal states: local value, reported', 'running', 'running', 'Local title'],
    ['remote state further along: remote value, reported', 'running', 'done', 'Remote title'],
    ['local state further along: local value, reported', 'done', 'running', 'Local title'],
  ])('both changed the title: %s', (_what, ls, rs, want) => {
    const out = mergeTask(
      base({ state: 'acked' }),
      doc({ state: ls, title: 'Local title' }),
      doc({ state: rs, title: 'Remote title' }),
      label,
    );
    expect(task(out.text).title).toBe(want);
    expect(out.conflicts).toEqual(['title']);
  });

  it('both changed a map field: the winner’s map, re-rendered in block style, reported', () => {
    const out = mergeTask(
      base(),
      doc({ extra: ['meta: { owner: ana }'] }),
      doc({ state: 'done', extra: ['meta: { owner: bo }'] }),
      label,
    );
    expect(out.text).toContain('meta:\n  owner: bo\n');
    expect(out.conflicts).toEqual(['meta']);
  });
});

describe('mergeTask: body', () => {
  const b = base({ body: 'Original request.\n' });

  it.each([
    ['only local changed: local body', 'Local request.\n', 'Original request.\n', 'Local request.\n'],
    ['only remote changed: remote body', 'Original request.\n', 'Remote request.\n', 'Remote request.\n'],
    ['both changed to the same text: that text', 'Same.\n', 'Same.\n', 'Same.\n'],
  ])('%s', (_what, lb, rb, want) => {
    const out = mergeTask(b, doc({ body: lb }), doc({ body: rb }), label);
    expect(bodyOf(out.text)).toBe(want);
    expect(out.conflicts).toEqual([]);
  });

  it('both changed: keeps local, then the remote body verbatim under a marked conflict section', () => {
    const remoteBody = 'Original request.\n\n## Result\n\nRemote result with <b>html</b>.\n';
    const out = mergeTask(
      b,
      doc({ body: 'Original request.\n\n## Result\n\nLocal result.' }),
      doc({ body: remoteBody }),
      label,
    );
    expect(bodyOf(out.text)).toBe(
      'Original request.\n\n## Result\n\nLocal result.\n\n' +
        '<!-- mailroom sync conflict: the body was changed on both sides; the other version follows. Merge by hand and delete this section. -->\n' +
        '## Conflict: body from vps\n\n' +
        remoteBody,
    );
    expect(out.conflicts).toEqual(['body']);
  });

  it('no base: any difference is a conflict; an equal body is kept as is', () => {
    const out = mergeTask(undefined, doc({ body: 'A\n' }), doc({ body: 'B\n', title: 'Other' }), label);
    expect(bodyOf(out.text)).toContain('A\n\n<!-- mailroom sync conflict');
    expect(bodyOf(out.text)).toMatch(/## Conflict: body from vps\n\nB\n$/);
    expect(out.conflicts).toEqual(['title', 'body']);
    const same = mergeTask(undefined, doc({ body: 'A\n', state: 'done' }), doc({ body: 'A\n' }), label);
    expect(same.conflicts).toEqual([]);
    expect(task(same.text).state).toBe('done');
  });

  it('a body that differs only in line endings is the same body', () => {
    const out = mergeTask(
      b,
      doc({ body: 'Original request.\r\nMore.\r\n' }),
      doc({ body: 'Original request.\nMore.\n' }),
      label,
    );
    expect(out.conflicts).toEqual([]);
  });
});

describe('mergeTask: the local file’s formatting survives', () => {
  const handWritten = [
    '---',
    '# written by hand in vim',
    'id: 20261122-101500-k3f9   # keep this comment',
    "title: 'Summarise: five articles'",
    'from: dispatch',
    'to: research',
    'state: "running"',
    'priority: normal',
    'created: 2026-11-22T10:15:00Z',
    'custom: { keep: me }   # unknown keys survive',
    'history:',
    `  - ${H.queued}`,
    `  - ${H.acked}`,
    `  - ${H.running}`,
    '# trailing comment',
    '---',
    'Body line one.',
    '',
  ].join('\r\n');

  it('edits only the merged lines of a CRLF file with comments, and the result parses', () => {
    const b = baseOf(handWritten)!;
    // Remote: an LF rewrite by another tool that finished the task and changed the priority.
    const remote = doc({
      state: 'done',
      history: [H.queued, H.acked, H.running, H.done],
      body: 'Body line one.\n',
    })
      .replace('priority: normal', 'priority: high')
      .replace('title: Summarise five articles', "title: 'Summarise: five articles'")
      .replace('attempt: 1\n', 'custom: { keep: me }\n'); // the hand-written file has no attempt line
    const out = mergeTask(b, handWritten, remote, label);
    expect(out.conflicts).toEqual([]);
    const before = handWritten.split('\r\n');
    const after = out.text.split('\r\n');
    expect(out.text).not.toMatch(/[^\r]\n/); // no bare LF
    expect(after).toEqual([
      ...before.slice(0, 6),
      'state: "done"', // quoting kept
      'priority: high',
      ...before.slice(8, 14),
      `  - ${H.done}`,
      ...before.slice(14),
    ]);
    const t = task(out.text);
    expect(t.id).toBe('20261122-101500-k3f9');
    expect([t.state, t.priority, t.attempt]).toEqual(['done', 'high', 1]);
  });

  it('keeps a CRLF file CRLF when a remote LF body and a conflict section come in', () => {
    const out = mergeTask(undefined, handWritten, doc({ body: 'Other body.\nTwo lines.\n' }), label);
    expect(out.text).not.toMatch(/[^\r]\n/);
    expect(out.text).toContain('## Conflict: body from vps\r\n\r\nOther body.\r\nTwo lines.\r\n');
    expect(task(out.text).id).toBe('20261122-101500-k3f9');
  });

  it('an unchanged merge (remote equal in content) returns the local text byte for byte', () => {
    const out = mergeTask(baseOf(handWritten), handWritten, handWritten.replace(/\r\n/g, '\n'), label);
    expect(out).toEqual({ text: handWritten, conflicts: [] });
  });
});

describe('mergeTask: layouts the editor cannot edit in place', () => {
  it('a flow-style frontmatter is rendered anew (correct beats pretty) and still parses', () => {
    const local =
      '---\n{ id: t1, title: x, from: a, to: b, state: running, created: 2026-11-22T10:15:00Z }\n---\nbody\n';
    const remote = `---\nid: t1\ntitle: x\nfrom: a\nto: b\nstate: done\ncreated: 2026-11-22T10:15:00Z\nhistory:\n  - ${H.done}\n---\nbody\n`;
    const out = mergeTask(undefined, local, remote, label);
    expect(out.text).toBe(
      `---\nid: t1\ntitle: x\nfrom: a\nto: b\nstate: done\ncreated: 2026-11-22T10:15:00Z\nhistory:\n  - ${H.done}\n---\nbody\n`,
    );
    expect(out.conflicts).toEqual([]);
  });
});

describe('mergeTask: preconditions and baseOf', () => {
  it('throws when the ids differ', () => {
    expect(() => mergeTask(undefined, doc(), doc().replace('k3f9', 'zzzz'), label)).toThrow(
      /different tasks/,
    );
  });

  it('throws when a side is not a valid task', () => {
    expect(() => mergeTask(undefined, doc(), 'no frontmatter', label)).toThrow(
      /remote version is not a valid task/,
    );
  });

  it('baseOf keeps the frontmatter as written (no defaults) and a line-ending-blind body hash', () => {
    const b = baseOf(doc())!;
    expect(b.fields.state).toBe('running');
    expect(b.fields.max_attempts).toBeUndefined();
    expect(b.bodyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(baseOf(doc({ body: 'x\r\ny\r\n' }))!.bodyHash).toBe(baseOf(doc({ body: 'x\ny\n' }))!.bodyHash);
    expect(baseOf('not a task')).toBeUndefined();
    expect(baseOf('---\n- a list\n---\n')).toBeUndefined();
  });

  it('survives a JSON round trip (the sync state stores it as JSON)', () => {
    const b = base();
    const stored = JSON.parse(JSON.stringify(b)) as MergeFields;
    const out = mergeTask(stored, doc({ title: 'New' }), doc({ state: 'done' }), label);
    expect(out.conflicts).toEqual([]);
    expect([task(out.text).title, task(out.text).state]).toEqual(['New', 'done']);
  });
});
