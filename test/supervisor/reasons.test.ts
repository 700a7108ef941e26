import { describe, expect, it } from 'vitest';
import { formatSpan, oneLine, reassignNote } from '../../src/supervisor/reasons.js';

describe('formatSpan', () => {
  it.each([
    [0, '0ms'],
    [500, '500ms'],
    [1_500, '1s'],
    [60_000, '1m'],
    [120_000, '2m'],
    [30 * 60_000 + 1_000, '30m 1s'],
    [31 * 60_000, '31m'],
    [3_600_000 + 5 * 60_000 + 7_000, '1h 5m'],
    [3_600_000 + 7_000, '1h'],
    [2 * 86_400_000 + 3 * 3_600_000, '2d 3h'],
    [-5, '0ms'],
  ])('%d ms -> %s', (ms, text) => {
    expect(formatSpan(ms)).toBe(text);
  });
});

describe('oneLine', () => {
  it('folds whitespace and newlines, and says when there is nothing', () => {
    expect(oneLine('a\n\tb\r\n c ')).toBe('a b c');
    expect(oneLine(undefined)).toBe('no error message');
    expect(oneLine(' \n ')).toBe('no error message');
  });

  it('caps a long message at 200 characters', () => {
    const line = oneLine('x'.repeat(500));
    expect(line).toHaveLength(200);
    expect(line.endsWith('…')).toBe(true);
  });
});

describe('reassignNote', () => {
  it('is counted by the ping-pong bound: it starts with "reassigned"', () => {
    expect(reassignNote('ra', 'rb', 'not acknowledged within 5m')).toBe(
      'reassigned from ra to rb: not acknowledged within 5m',
    );
  });
});
