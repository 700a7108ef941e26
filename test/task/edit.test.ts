import { describe, expect, it } from 'vitest';
import { applyTaskEdit } from '../../src/task/edit.js';
import { parseTask } from '../../src/task/parse.js';
import { renderTask } from '../../src/task/render.js';

const handWritten = [
  '---',
  '# written by hand in vim',
  'id: t1   # keep this comment',
  "title: 'Summarise: five articles'",
  'from: dispatch',
  'to: research',
  'state: "queued"',
  'created: 2026-11-22T10:15:00Z',
  'custom_field: { keep: me }   # unknown keys survive',
  'tags: [a, b]',
  'history:',
  '  - { state: queued, at: 2026-11-22T10:15:00Z, by: dispatch }',
  '# trailing comment',
  'review_by: "2026-12-01"',
  '---',
  'Body line one.',
  '',
  'Body line three.',
  '',
].join('\r\n');

function parsed(text: string) {
  const r = parseTask(text);
  if (!r.ok) throw new Error(`parse failed: ${r.problem.reason} (line ${r.problem.line})`);
  return r.value;
}

describe('applyTaskEdit', () => {
  it('changes only the state line and adds one history line in a hand-written CRLF file', () => {
    const before = handWritten;
    const after = applyTaskEdit(parsed(before).file, {
      set: { state: 'acked' },
      history: [{ state: 'acked', at: '2026-11-22T10:16:00Z', by: 'research' }],
    });
    const a = before.split('\r\n');
    const b = after.split('\r\n');
    expect(b.length).toBe(a.length + 1);
    const changed = b.filter((line, i) => line !== a[i] && line !== a[i - 1]);
    expect(b[6]).toBe('state: "acked"');
    expect(b[12]).toBe('  - { state: acked, at: 2026-11-22T10:16:00Z, by: research }');
    // Every other line identical, in order.
    expect([...b.slice(0, 6), ...b.slice(7, 12), ...b.slice(13)]).toEqual([...a.slice(0, 6), ...a.slice(7)]);
    expect(changed.length).toBeGreaterThan(0);
    expect(after).not.toMatch(/[^\r]\n/); // no bare LF introduced
    expect(parsed(after).task.state).toBe('acked');
  });

  it('appends to block-style history entries in block style', () => {
    const text =
      '---\nid: t2\ntitle: x\nfrom: a\nto: b\nstate: queued\ncreated: 2026-11-22T10:15:00Z\nhistory:\n  - state: queued\n    at: 2026-11-22T10:15:00Z\n    by: a\n---\n';
    const out = applyTaskEdit(parsed(text).file, {
      history: [{ state: 'acked', at: '2026-11-22T10:16:00Z', by: 'b', note: 'a, b: c' }],
    });
    expect(out).toContain(
      '    by: a\n  - state: acked\n    at: 2026-11-22T10:16:00Z\n    by: b\n    note: "a, b: c"\n---\n',
    );
    expect(parsed(out).task.history).toHaveLength(2);
  });

  it('creates history when absent and adds, replaces and removes the error block', () => {
    const text =
      '---\nid: t3\ntitle: x\nfrom: a\nto: b\nstate: running\ncreated: 2026-11-22T10:15:00Z\n---\nbody\n';
    const failed = applyTaskEdit(parsed(text).file, {
      set: { state: 'failed' },
      error: { message: 'HTTP 429', retryable: true, tried: 'three times' },
      history: [{ state: 'failed', at: '2026-11-22T10:16:00Z', by: 'b' }],
    });
    const p = parsed(failed).task;
    expect(p.error).toEqual({ message: 'HTTP 429', retryable: true, tried: 'three times' });
    expect(p.history).toEqual([{ state: 'failed', at: '2026-11-22T10:16:00Z', by: 'b' }]);
    const again = applyTaskEdit(parsed(failed).file, { error: { message: 'second' } });
    expect(parsed(again).task.error).toEqual({ message: 'second' });
    expect(again.match(/error:/g)).toHaveLength(1);
    const cleared = applyTaskEdit(parsed(again).file, { error: null });
    expect(parsed(cleared).task.error).toBeUndefined();
    expect(cleared).toContain('\n---\nbody\n');
  });

  it('appends the result under a ## Result heading, keeping the request above it', () => {
    const text =
      '---\nid: t4\ntitle: x\nfrom: a\nto: b\nstate: running\ncreated: 2026-11-22T10:15:00Z\n---\nDo the thing.\n';
    const out = applyTaskEdit(parsed(text).file, { result: 'It is done.\nSee files.' });
    expect(out.endsWith('---\nDo the thing.\n\n## Result\n\nIt is done.\nSee files.\n')).toBe(true);
  });

  it('round-trips a rendered task', () => {
    const task = parsed(
      renderTask(
        {
          id: 't5',
          title: 'Quote: "me"',
          from: 'a',
          to: 'b',
          state: 'queued',
          priority: 'high',
          created: '2026-11-22T10:15:00Z',
          attempt: 1,
          max_attempts: 3,
          ack_timeout: '5m',
          run_timeout: '30m',
          history: [{ state: 'queued', at: '2026-11-22T10:15:00Z', by: 'a' }],
        },
        'Body',
      ),
    ).task;
    expect(task.title).toBe('Quote: "me"');
    expect(task.priority).toBe('high');
  });
});

describe('parseTask problems', () => {
  const cases: [string, string, RegExp, number | undefined][] = [
    ['no frontmatter', 'just text\n', /no frontmatter/, 1],
    ['unclosed', '---\nid: x\n', /not closed/, 1],
    ['bad yaml', '---\nid: x\ntitle: [oops\n---\n', /invalid YAML/, undefined],
    [
      'unknown state',
      '---\nid: x\ntitle: t\nfrom: a\nto: b\nstate: doing\ncreated: 2026-11-22T10:15:00Z\n---\n',
      /state: unknown state "doing"/,
      6,
    ],
    [
      'missing title',
      '---\nid: x\nfrom: a\nto: b\nstate: queued\ncreated: 2026-11-22T10:15:00Z\n---\n',
      /missing required field "title"/,
      undefined,
    ],
    [
      'wrong type',
      '---\nid: x\ntitle: t\nfrom: a\nto: b\nstate: queued\ncreated: 2026-11-22T10:15:00Z\nattempt: two\n---\n',
      /attempt: expected a whole number/,
      8,
    ],
    [
      'bad duration',
      '---\nid: x\ntitle: t\nfrom: a\nto: b\nstate: queued\ncreated: 2026-11-22T10:15:00Z\nack_timeout: soon\n---\n',
      /ack_timeout: expected a duration/,
      8,
    ],
    ['list', '---\n- a\n---\n', /not a list/, 2],
  ];
  it.each(cases)('%s', (_name, text, reason, line) => {
    const r = parseTask(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problem.reason).toMatch(reason);
    if (line !== undefined) expect(r.problem.line).toBe(line);
  });

  it('refuses an id that does not match the file name', () => {
    const r = parseTask(
      '---\nid: x\ntitle: t\nfrom: a\nto: b\nstate: queued\ncreated: 2026-11-22T10:15:00Z\n---\n',
      'y',
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem.reason).toMatch(/does not match the file name "y.md"/);
  });
});
