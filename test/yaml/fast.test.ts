// The fast frontmatter reader (src/yaml/fast.ts) answers only when it gives exactly what the `yaml`
// library gives: checked on every shape mailroom writes, on a table of scalars the core schema reads
// as numbers, booleans or nulls, and on thousands of generated texts mixing both.

import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { renderTask } from '../../src/task/render.js';
import { parseYaml } from '../../src/yaml/document.js';
import { fastYaml } from '../../src/yaml/fast.js';
import { FRONTMATTER as TASK } from '../support/task-file.js';
import { seededRand, TRICKY_ATOMS } from '../support/yaml-gen.js';

const library = (text: string): unknown => {
  const doc = parseDocument(text, { version: '1.2', uniqueKeys: true, prettyErrors: false });
  return doc.errors.length > 0 ? 'ERROR' : doc.toJS({ maxAliasCount: 100 });
};

/** The invariant: undefined, or what the library says. */
const agrees = (text: string) => {
  const fast = fastYaml(text);
  if (fast !== undefined) expect(fast, JSON.stringify(text)).toEqual(library(text));
  return fast !== undefined;
};

describe('fastYaml', () => {
  it('reads the frontmatter mailroom writes, exactly as the library does', () => {
    expect(agrees(TASK)).toBe(true);
    expect(fastYaml(TASK)).toMatchObject({ attempt: 1, history: [{ state: 'queued' }, { by: 'a01' }] });
    const frontmatter = (task: Parameters<typeof renderTask>[0]) =>
      renderTask(task, 'body').split('---\n')[1]!;
    const written = frontmatter({
      id: '20260101-000000-0006',
      title: 'Plain title',
      from: 'dispatch',
      to: 'w',
      state: 'done',
      priority: 'normal',
      created: '2026-01-01T00:00:00Z',
      attempt: 2,
      max_attempts: 3,
      history: [{ state: 'queued', at: '2026-01-01T00:00:00Z', by: 'dispatch' }],
    } as Parameters<typeof renderTask>[0]);
    expect(agrees(written)).toBe(true);
  });

  it('block-style lists, lists at the key column, empty values', () => {
    for (const text of [
      'history:\n  - state: queued\n    at: 2026-01-01T00:00:00Z\n  - state: done\n    by: w\n',
      'history:\n- { state: queued }\n- { state: done }\nnext: x\n',
      'tags:\n  - alpha\n  - beta2\n',
      'result:\nstate: done\n',
      'result:\n',
      'a: {}\n',
    ])
      expect(agrees(text), text).toBe(true);
  });

  it.each([
    'true',
    'True',
    'FALSE',
    'null',
    'Null',
    '~',
    '',
    '0o17',
    '0x1F',
    '-1',
    '+1',
    '007',
    '1.5',
    '.5',
    '1.',
    '1e3',
    '-1E-2',
    '.inf',
    '-.Inf',
    '.nan',
    '12345678901234567',
    "'quoted'",
    '"quoted"',
    'a #comment',
    'a: b',
    'a:',
    '[1, 2]',
    '{a: 1}',
    '&anchor x',
    '*alias',
    '!tag x',
    '|',
    '>',
    '@x',
    '`x`',
    '%x',
    '- x',
    '? x',
    'x  y',
    'x ',
    ' x',
    'yes',
    'no',
    'on',
    'off',
    'Infinity',
    '1_000',
    '2026-01-01',
    '12:30',
    "Don't",
    'say "hi"',
    'a, b',
    'über',
    'a\u200bb',
    'x\u0007',
  ])('the scalar %j: undefined or the library value', (v) => {
    agrees(`key: ${v}\n`);
    agrees(`key:\n  - ${v}\n`);
    agrees(`key:\n  - { a: ${v} }\n`);
    agrees(`key:\n  - a: ${v}\n`);
  });

  it('declines what is not its shape', () => {
    for (const text of [
      'a: 1\na: 2\n', // duplicate key: the library's error stands
      'a: 1\r\nb: 2\r\n',
      '# comment\na: 1\n',
      'a: 1\n\nb: 2\n',
      'a:\n  b: 1\n',
      'a: |\n  text\n',
      'a: x\n  continued\n',
      'true: 1\n',
      '__proto__: 1\n',
      '- a\n- b\n',
      'a: { b: 1, b: 2 }\n',
      'h:\n  - a: 1\n    a: 2\n',
      'h:\n  - a: 1\n      b: 2\n',
      'a:\tb\n',
      '',
    ])
      expect(fastYaml(text), JSON.stringify(text)).toBeUndefined();
  });

  it('thousands of generated frontmatters: never a different answer from the library', () => {
    const rand = seededRand(20261127);
    const atoms = ['a', 'Z9', 'x_y', 'ü', '@', ...TRICKY_ATOMS];
    const value = () => Array.from({ length: 1 + rand(4) }, () => atoms[rand(atoms.length)]).join('');
    const keys = ['id', 'state', 'by', 'at', 'x-y', 'true', 'n'];
    let answered = 0;
    for (let i = 0; i < 4000; i++) {
      const lines: string[] = [];
      for (let k = 0; k < 1 + rand(5); k++) {
        const key = keys[rand(keys.length)];
        switch (rand(4)) {
          case 0:
            lines.push(`${key}: ${value()}`);
            break;
          case 1:
            lines.push(`${key}:`, `  - { ${key}: ${value()}, at: ${value()} }`);
            break;
          case 2:
            lines.push(`${key}:`, `  - ${key}: ${value()}`, `    by: ${value()}`);
            break;
          default:
            lines.push(`${key}:`, `- ${value()}`);
        }
      }
      if (agrees(`${lines.join('\n')}\n`)) answered++;
    }
    // The generator makes many texts the fast reader takes: the invariant is checked on real answers.
    expect(answered).toBeGreaterThan(200);
  });

  it('parseYaml gives the same value and line numbers through either reader', () => {
    const r = parseYaml(TASK);
    expect(r.ok && r.value).toEqual(library(TASK));
    expect(r.ok && r.lineOf(['attempt'])).toBe(8);
    expect(r.ok && r.lineOf(['history', '1'])).toBe(14);
  });
});
