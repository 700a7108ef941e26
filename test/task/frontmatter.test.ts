// Splitting a task file into fence, YAML, fence and body without changing a byte (src/task/frontmatter.ts). Pure.

import { describe, expect, it } from 'vitest';
import { detectEol, joinFrontmatter, splitFrontmatter } from '../../src/task/frontmatter.js';

describe('splitFrontmatter', () => {
  const good: [string, string, Record<string, string>][] = [
    ['LF', '---\na: 1\n---\nBody\n', { eol: '\n', yaml: 'a: 1\n', close: '---\n', body: 'Body\n', bom: '' }],
    ['CRLF', '---\r\na: 1\r\n---\r\nBody\r\n', { eol: '\r\n', yaml: 'a: 1\r\n', body: 'Body\r\n' }],
    ['a BOM is kept apart', '\uFEFF---\na: 1\n---\n', { bom: '\uFEFF', yaml: 'a: 1\n', body: '' }],
    ['YAML end marker closes', '---\na: 1\n...\nBody', { close: '...\n', body: 'Body' }],
    ['a fence with trailing blanks', '--- \na: 1\n---\t\n', { open: '--- \n', close: '---\t\n' }],
    ['no newline after the closing fence', '---\na: 1\n---', { close: '---', body: '' }],
    ['empty frontmatter', '---\n---\nB', { yaml: '', body: 'B' }],
  ];
  it.each(good)('%s: split, and joined back byte for byte', (_, text, want) => {
    const r = splitFrontmatter(text);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.file).toMatchObject(want);
    expect(joinFrontmatter(r.file)).toBe(text);
  });

  const bad: [string, string, 'no-frontmatter' | 'unclosed'][] = [
    ['no fence', 'Just text\n', 'no-frontmatter'],
    ['a fence not on the first line', '\n---\na: 1\n---\n', 'no-frontmatter'],
    ['only an opening fence', '---', 'unclosed'],
    ['never closed', '---\na: 1\nb: 2\n', 'unclosed'],
  ];
  it.each(bad)('%s: %s at line 1', (_, text, reason) => {
    expect(splitFrontmatter(text)).toEqual({ ok: false, reason, line: 1 });
  });
});

describe('detectEol', () => {
  it.each([
    ['a\nb', '\n'],
    ['a\r\nb', '\r\n'],
    ['no newline', '\n'],
    ['\nfirst line empty', '\n'],
  ])('%j -> %j', (text, eol) => {
    expect(detectEol(text)).toBe(eol);
  });
});
