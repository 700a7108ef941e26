// The far change stream's lines are capped and split in linear time (docs/spec.md §6).

import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/ssh/line-splitter.js';

function split(chunks: (string | Buffer)[], max = 8) {
  const lines: string[] = [];
  let tooLong = 0;
  const s = new LineSplitter(
    max,
    (l) => lines.push(l),
    () => tooLong++,
  );
  for (const c of chunks) s.push(typeof c === 'string' ? Buffer.from(c) : c);
  return { lines, tooLong };
}

describe('LineSplitter', () => {
  it.each([
    ['one line', ['abc\n'], ['abc'], 0],
    ['a line across chunks', ['ab', 'c\nde', 'f\n'], ['abc', 'def'], 0],
    ['no newline yet: nothing', ['abc'], [], 0],
    ['empty lines', ['\n\n'], ['', ''], 0],
    ['exactly the cap', ['12345678\n'], ['12345678'], 0],
    ['over the cap: dropped to its newline, reported once', ['123456789', '0000', '\nok\n'], ['ok'], 1],
    ['two long lines: two reports', ['123456789\n123456789\nok\n'], ['ok'], 2],
  ])('%s', (_name, chunks, lines, tooLong) => {
    expect(split(chunks as string[])).toEqual({ lines, tooLong });
  });

  it('a multi-byte character split across chunks is decoded whole', () => {
    const euro = Buffer.from('€\n');
    expect(split([euro.subarray(0, 1), euro.subarray(1)]).lines).toEqual(['€']);
  });

  it('50 MB without a newline keeps at most the cap, and the next line still arrives', () => {
    const s = new LineSplitter(
      4096,
      () => {},
      () => {},
    );
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    for (let i = 0; i < 800; i++) s.push(chunk);
    const internal = s as unknown as { size: number; parts: Buffer[] };
    expect(internal.size).toBe(0);
    expect(internal.parts).toHaveLength(0);
    const lines: string[] = [];
    const t = new LineSplitter(4096, (l) => lines.push(l));
    for (let i = 0; i < 800; i++) t.push(chunk);
    t.push(Buffer.from('\nchanged agents/x/inbox/a.md\n'));
    expect(lines).toEqual(['changed agents/x/inbox/a.md']);
    expect(t.tooLong).toBe(1);
  });
});
