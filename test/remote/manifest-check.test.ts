// checkManifest (src/remote/protocol.ts) replaced a zod schema for the far side's manifest, the one
// reply the hub receives whole at every full pass. The far side is untrusted: the hand-written check
// must refuse everything the schema refused and accept what it accepted. The schema is kept here as
// the reference, and both are run on a valid manifest and on many broken ones.

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkManifest, HASH, MAX_MANIFEST_ENTRIES } from '../../src/remote/protocol.js';

const text = (max: number) => z.string().max(max);
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const time = z.number().finite();
const RecordSchema = z.tuple([count, time, z.string().regex(HASH), z.number().int().nullable(), time]);
const ManifestSchema = z.object({
  records: z.record(text(4096), RecordSchema),
  tasks: z.array(z.tuple([text(128), text(4096)])).max(MAX_MANIFEST_ENTRIES),
  files: z.array(text(4096)).max(MAX_MANIFEST_ENTRIES),
  problems: z.array(z.object({ path: text(4096), reason: text(2000) })).max(10_000),
  reads: count,
});

const H = 'a'.repeat(64);
const valid = () => ({
  records: {
    'agents/w/inbox/20260101-000000-abcd.md': [120, 1767225600000.25, H, 2, 1767225600001],
    'agents/w/inbox/20260101-000000-abcd.files/x.bin': [7, 1, H, null, 2],
  },
  tasks: [['20260101-000000-abcd', 'agents/w/inbox/20260101-000000-abcd.md']],
  files: ['agents/w/inbox/20260101-000000-abcd.files/x.bin'],
  problems: [{ path: 'agents/w/inbox/bad.md', reason: 'unreadable' }],
  reads: 3,
});

type M = ReturnType<typeof valid> & Record<string, unknown>;
/** A case that changes the first record in place. */
const inRecord =
  (change: (r: unknown[]) => void) =>
  (m: M): M => {
    change(m.records['agents/w/inbox/20260101-000000-abcd.md'] as unknown[]);
    return m;
  };

/** Each one breaks one thing (or keeps it valid in a way that is easy to get wrong). */
const CASES: [string, (m: M) => unknown][] = [
  ['valid as it is', (m) => m],
  ['not an object', () => [1, 2]],
  ['null', () => null],
  ['records missing', (m) => ({ ...m, records: undefined })],
  ['records an array', (m) => ({ ...m, records: [] })],
  ['records empty', (m) => ({ ...m, records: {} })],
  ['a record too short', inRecord((r) => r.pop())],
  ['a record too long', inRecord((r) => r.push(1))],
  [
    'a negative size',
    inRecord((r) => {
      r[0] = -1;
    }),
  ],
  [
    'a fractional size',
    inRecord((r) => {
      r[0] = 1.5;
    }),
  ],
  [
    'a size past the safe integers',
    inRecord((r) => {
      r[0] = 2 ** 60;
    }),
  ],
  [
    'a size as text',
    inRecord((r) => {
      r[0] = '12';
    }),
  ],
  [
    'an infinite mtime',
    inRecord((r) => {
      r[1] = Number.POSITIVE_INFINITY;
    }),
  ],
  [
    'a NaN mtime',
    inRecord((r) => {
      r[1] = Number.NaN;
    }),
  ],
  [
    'a short hash',
    inRecord((r) => {
      r[2] = 'abc';
    }),
  ],
  [
    'an upper-case hash',
    inRecord((r) => {
      r[2] = 'A'.repeat(64);
    }),
  ],
  [
    'a hash with a newline after it',
    inRecord((r) => {
      r[2] = `${H}\n`;
    }),
  ],
  [
    'a fractional rank',
    inRecord((r) => {
      r[3] = 0.5;
    }),
  ],
  [
    'a negative rank',
    inRecord((r) => {
      r[3] = -3;
    }),
  ],
  [
    'a rank as text',
    inRecord((r) => {
      r[3] = '1';
    }),
  ],
  [
    'a checkedAt missing (undefined)',
    inRecord((r) => {
      r[4] = undefined;
    }),
  ],
  ['a record key over 4096', (m) => ({ ...m, records: { ['a'.repeat(4097)]: [1, 1, H, null, 1] } })],
  ['a record key of 4096', (m) => ({ ...m, records: { ['a'.repeat(4096)]: [1, 1, H, null, 1] } })],
  ['a __proto__ key', (m) => ({ ...m, records: JSON.parse(`{"__proto__": [1, 1, "${H}", null, 1]}`) })],
  ['a record an object', (m) => ({ ...m, records: { x: { 0: 1 } } })],
  ['tasks not an array', (m) => ({ ...m, tasks: {} })],
  ['a task pair of three', (m) => ({ ...m, tasks: [['a', 'b', 'c']] })],
  ['a task id over 128', (m) => ({ ...m, tasks: [['a'.repeat(129), 'b']] })],
  ['a task path as a number', (m) => ({ ...m, tasks: [['a', 1]] })],
  ['files with a number', (m) => ({ ...m, files: [1] })],
  ['a file path over 4096', (m) => ({ ...m, files: ['a'.repeat(4097)] })],
  ['problems not an array', (m) => ({ ...m, problems: 'x' })],
  ['a problem without a reason', (m) => ({ ...m, problems: [{ path: 'x' }] })],
  ['a problem reason over 2000', (m) => ({ ...m, problems: [{ path: 'x', reason: 'r'.repeat(2001) }] })],
  ['a problem null', (m) => ({ ...m, problems: [null] })],
  [
    '10,001 problems',
    (m) => ({ ...m, problems: Array.from({ length: 10_001 }, () => ({ path: 'x', reason: 'y' })) }),
  ],
  [
    '10,000 problems',
    (m) => ({ ...m, problems: Array.from({ length: 10_000 }, () => ({ path: 'x', reason: 'y' })) }),
  ],
  ['reads negative', (m) => ({ ...m, reads: -1 })],
  ['reads missing', (m) => ({ ...m, reads: undefined })],
  ['an extra key', (m) => ({ ...m, extra: 1 })],
];

describe('checkManifest against the zod schema it replaced', () => {
  it.each(CASES)('%s', (_name, make) => {
    const value = make(valid() as M);
    const expected = ManifestSchema.safeParse(value).success;
    expect(checkManifest(value) !== undefined).toBe(expected);
  });

  it('accepts the valid manifest and refuses most broken ones (the table is not all one answer)', () => {
    const answers = CASES.map(([, make]) => checkManifest(make(valid() as M)) !== undefined);
    expect(answers.filter(Boolean).length).toBeGreaterThanOrEqual(4);
    expect(answers.filter((a) => !a).length).toBeGreaterThanOrEqual(30);
  });
});
