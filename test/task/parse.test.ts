// Task text -> task or problem (src/task/parse.ts, docs/spec.md §2): each error message with the
// line it points at, and the bytes that decode or not. Pure.

import { describe, expect, it } from 'vitest';
import { decodeTaskBytes, parseTask } from '../../src/task/parse.js';

const GOOD = [
  'id: t1',
  'title: Summarise',
  'from: dispatch',
  'to: research',
  'state: queued',
  'priority: normal',
  'created: 2026-11-22T10:00:00Z',
];
/** A task file whose frontmatter is GOOD with `edit` applied (line 1 is the fence, field n is line n+1). */
const file = (edit: (lines: string[]) => string[] = (l) => l) =>
  `---\n${edit([...GOOD]).join('\n')}\n---\nBody.\n`;
const set = (key: string, value: string) => (l: string[]) =>
  l.map((x) => (x.startsWith(`${key}:`) ? `${key}: ${value}` : x));
const drop = (key: string) => (l: string[]) => l.filter((x) => !x.startsWith(`${key}:`));

const errors: [string, string, string | undefined, RegExp, number | undefined][] = [
  ['no frontmatter', 'Just a note.\n', undefined, /^no frontmatter: a task file starts with a line "---"/, 1],
  ['unclosed frontmatter', '---\ntitle: x\n', undefined, /^frontmatter is not closed: add a line "---"/, 1],
  [
    'invalid YAML',
    file((l) => [...l, 'bad: a: b']),
    undefined,
    /^invalid YAML: Nested mappings are not allowed/,
    9,
  ],
  [
    'a duplicate key, at its second line',
    file((l) => [...l, 'dup: 1', 'dup: 2']),
    undefined,
    /^invalid YAML: Map keys must be unique$/,
    10,
  ],
  // An unclosed quote is noticed where the YAML ends: the closing fence's line.
  [
    'an unclosed quote',
    file((l) => [...l, 'bad: "x']),
    undefined,
    /^invalid YAML: Missing closing "quote$/,
    10,
  ],
  ['a list, not fields', '---\n- a\n- b\n---\n', undefined, /^frontmatter must be YAML fields/, 2],
  ['missing title', file(drop('title')), undefined, /^missing required field "title"$/, undefined],
  ['empty title', file(set('title', '""')), undefined, /^title: must not be empty$/, 3],
  [
    'bad state',
    file(set('state', 'paused')),
    undefined,
    /^state: unknown state "paused"; use one of queued, acked/,
    6,
  ],
  [
    'bad priority',
    file(set('priority', 'asap')),
    undefined,
    /^priority: "asap" is not one of urgent, high, normal, low$/,
    7,
  ],
  ['bad created', file(set('created', 'yesterday')), undefined, /^created: expected an ISO 8601 UTC time/, 8],
  ['bad agent name', file(set('to', 'Research Team')), undefined, /^to: not a valid agent name/, 5],
  [
    'bad duration',
    file((l) => [...l, 'ack_timeout: soon']),
    undefined,
    /^ack_timeout: expected a duration like 90s/,
    9,
  ],
  [
    'attempt not a number',
    file((l) => [...l, 'attempt: two']),
    undefined,
    /^attempt: expected a whole number$/,
    9,
  ],
  [
    'history not a list',
    file((l) => [...l, 'history: yes']),
    undefined,
    /^history: expected a list of \{state, at, by\}/,
    9,
  ],
  [
    'id not the file name',
    file(),
    't2',
    /^id "t1" does not match the file name "t2.md": rename the file or fix the id$/,
    2,
  ],
];

describe('parseTask: each error, and its line', () => {
  it.each(errors)('%s', (_, text, expectedId, reason, line) => {
    const r = parseTask(text, expectedId);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problem.reason).toMatch(reason);
    expect(r.problem.line).toBe(line);
  });

  it('a good file parses, with defaults filled in and the parts kept byte for byte', () => {
    const text = file();
    const r = parseTask(text, 't1');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.task).toMatchObject({ id: 't1', state: 'queued', attempt: 1, max_attempts: 3 });
    const f = r.value.file;
    expect(f.bom + f.open + f.yaml + f.close + f.body).toBe(text);
  });
});

describe('decodeTaskBytes', () => {
  const cases: [string, Uint8Array, RegExp | string][] = [
    ['UTF-8 text', Buffer.from('---\ntitle: é\n---\n'), '---\ntitle: é\n---\n'],
    ['a byte order mark is kept', Buffer.from('\uFEFF---\n'), '\uFEFF---\n'],
    ['NUL bytes', Buffer.from([0x2d, 0x00]), /^binary file \(contains NUL bytes\), not a task$/],
    ['invalid UTF-8', Buffer.from([0x2d, 0xff, 0xfe]), /^not valid UTF-8 text$/],
  ];
  it.each(cases)('%s', (_, bytes, want) => {
    const r = decodeTaskBytes(bytes);
    if (typeof want === 'string') expect(r).toEqual({ ok: true, text: want });
    else expect(!r.ok && r.problem.reason).toMatch(want);
  });
});
