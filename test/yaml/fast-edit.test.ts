// The fast editor (src/yaml/fast-edit.ts) answers only when it gives exactly the text the library's
// editor (YamlEditor) gives: checked on the edits every status change makes to the frontmatter
// mailroom writes, on values the library must quote, and on thousands of generated texts and edits.

import { describe, expect, it } from 'vitest';
import { YamlEditor } from '../../src/yaml/document.js';
import { type FastEditOps, type FastScalar, fastEdit } from '../../src/yaml/fast-edit.js';
import { FRONTMATTER as TASK } from '../support/task-file.js';
import { seededRand, TRICKY_ATOMS } from '../support/yaml-gen.js';

const library = (text: string, ops: FastEditOps): string => {
  const ed = new YamlEditor(text, '\n');
  for (const [k, v] of Object.entries(ops.set ?? {})) ed.setScalar(k, v);
  for (const e of ops.append?.entries ?? []) ed.appendToSeq(ops.append!.key, e);
  return ed.toString();
};

/** The invariant: undefined, or the library's text. */
const agrees = (text: string, ops: FastEditOps): boolean => {
  const fast = fastEdit(text, ops);
  if (fast !== undefined) expect(fast, JSON.stringify({ text, ops })).toBe(library(text, ops));
  return fast !== undefined;
};

const claim: FastEditOps = {
  set: { state: 'acked' },
  append: {
    key: 'history',
    entries: [{ state: 'acked', at: '2026-11-27T22:00:00Z', by: 'a01', note: 'claimed with next' }],
  },
};

describe('fastEdit', () => {
  it('makes the edits of a status change to what mailroom writes, as the library does', () => {
    expect(agrees(TASK, claim)).toBe(true);
    expect(fastEdit(TASK, claim)).toContain('state: acked\n');
    expect(
      fastEdit(TASK, claim)!.endsWith(
        '  - { state: acked, at: 2026-11-27T22:00:00Z, by: a01, note: claimed with next }\n',
      ),
    ).toBe(true);
    // Two skipped states and a new attempt number, as `done` from queued and `retry` make.
    const many: FastEditOps = {
      set: { state: 'done', attempt: 2 },
      append: {
        key: 'history',
        entries: [
          { state: 'acked', at: '2026-11-27T22:00:00Z', by: 'a01', note: 'skipped' },
          { state: 'running', at: '2026-11-27T22:00:00Z', by: 'a01', note: 'skipped' },
          { state: 'done', at: '2026-11-27T22:00:00Z', by: 'a01' },
        ],
      },
    };
    expect(agrees(TASK, many)).toBe(true);
    // A list at the key's column, and extra spaces after a key's colon, are kept as written.
    expect(agrees(TASK.replace(/\n {2}- /g, '\n- ').replace('state: queued', 'state:   queued'), claim)).toBe(
      true,
    );
  });

  it('declines what it is not sure of (the library edits those)', () => {
    const declined: Array<[string, FastEditOps]> = [
      [TASK.replace('title:', '# a comment\ntitle:'), claim], // not the fast reader's shape
      [TASK.replace(/\n/g, '\r\n'), claim],
      [TASK, { set: { missing: 'x' } }], // a new key: the library places it
      [TASK, { set: { history: 'x' } }], // not a scalar
      [TASK, { set: { state: 'two: words' } }],
      [TASK, { set: { state: 'true' } }],
      [TASK, { set: { state: '12:30' } }],
      [TASK, { set: { state: true } }],
      [TASK, { set: { attempt: 1.5 } }],
      [TASK, { append: { key: 'history', entries: [{ note: 'a, b' }] } }],
      [TASK, { append: { key: 'history', entries: [{ note: '#x' }] } }],
      [TASK, { append: { key: 'history', entries: [{ note: 'x # y' }] } }],
      [TASK, { append: { key: 'title', entries: [{ a: 'b' }] } }],
      [
        TASK.replace(
          '  - { state: queued, at: 2026-01-01T00:00:00Z, by: dispatch }',
          '  - state: queued\n    by: dispatch',
        ),
        claim,
      ],
    ];
    for (const [text, ops] of declined)
      expect(fastEdit(text, ops), JSON.stringify({ text, ops })).toBeUndefined();
  });

  it('thousands of generated texts and edits: never a different text from the library', () => {
    const rand = seededRand(20261127);
    const safe = [
      'a',
      'Z9',
      'x_y',
      'queued',
      'a01',
      'T',
      'Z',
      'claimed with next',
      '2026-01-01T00:00:00Z',
      'b/c',
      'u@h',
      'v+1',
      'x:y',
      'ü',
    ];
    const risky = TRICKY_ATOMS;
    const atom = () => (rand(15) === 0 ? risky[rand(risky.length)]! : safe[rand(safe.length)]!);
    const text = () => Array.from({ length: 1 + rand(3) }, atom).join(rand(4) === 0 ? ' ' : '');
    const value = (): FastScalar => (rand(8) === 0 ? (rand(3) === 0 ? 1.5 : rand(100)) : text());
    const keys = ['id', 'state', 'by', 'at', 'x-y', 'note', 'attempt'];
    let answered = 0;
    for (let i = 0; i < 4000; i++) {
      const present = keys.filter(() => rand(2) === 0);
      const lines = present.map((k) => `${k}:${rand(5) === 0 ? '  ' : ' '}${text()}`);
      const indent = rand(2) ? '  ' : '';
      lines.splice(
        rand(lines.length + 1),
        0,
        'history:',
        ...Array.from({ length: 1 + rand(3) }, () => `${indent}- { state: ${text()}, at: ${text()} }`),
      );
      const set: Record<string, FastScalar> = {};
      for (const k of present) if (rand(3) === 0) set[k] = value();
      const entries = Array.from({ length: rand(3) }, () => ({ state: value(), at: value(), by: value() }));
      if (agrees(`${lines.join('\n')}\n`, { set, append: { key: 'history', entries } })) answered++;
    }
    // Many generated cases reach the fast editor: the invariant is checked on real answers.
    expect(answered).toBeGreaterThan(200);
  });
});
