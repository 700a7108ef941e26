// A manifest as a change since the last one (src/remote/manifest-delta.ts): applying the change to
// the old manifest gives exactly the new one, whatever changed; nothing changed is said as such; the
// old manifest is never edited; and a received change with a broken frame is refused.

import { describe, expect, it } from 'vitest';
import { applyDelta, checkDelta, manifestDelta } from '../../src/remote/manifest-delta.js';
import type { Manifest, ManifestRecord } from '../../src/remote/protocol.js';

const H = (c: string) => c.repeat(64);
const rec = (size: number, hash = H('a'), rank: number | null = 0): ManifestRecord => [
  size,
  1000,
  hash,
  rank,
  5000,
];
const task = (agent: string, box: string, id: string) => `agents/${agent}/${box}/${id}.md`;

function manifest(parts: Partial<Manifest> = {}): Manifest {
  return { records: {}, tasks: [], files: [], problems: [], reads: 0, ...parts };
}

/** The same manifest whatever the order of its lists. */
function normal(m: Manifest) {
  return {
    records: Object.fromEntries(Object.entries(m.records).sort(([a], [b]) => (a < b ? -1 : 1))),
    tasks: [...m.tasks].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    files: [...m.files].sort(),
    problems: m.problems,
    reads: m.reads,
  };
}

const roundTrip = (prev: Manifest, next: Manifest) => {
  const { delta, unchanged } = manifestDelta(prev, next, 'g1', 'g2');
  const before = JSON.stringify(prev);
  const merged = applyDelta(prev, JSON.parse(JSON.stringify(delta)));
  expect(JSON.stringify(prev), 'the old manifest is left as it was').toBe(before);
  expect(normal(merged)).toEqual(normal(next));
  return { delta, unchanged };
};

const base = manifest({
  records: {
    [task('a', 'inbox', 't1')]: rec(10),
    [task('a', 'outbox', 't2')]: rec(20, H('b'), 3),
    'agents/a/inbox/t1.files/notes.txt': rec(5, H('c'), null),
  },
  tasks: [
    ['t1', task('a', 'inbox', 't1')],
    ['t2', task('a', 'outbox', 't2')],
  ],
  files: ['agents/a/inbox/t1.files/notes.txt'],
  problems: [{ path: 'agents/a/inbox/bad.md', reason: 'invalid YAML' }],
  reads: 3,
});

describe('manifest deltas', () => {
  it('nothing changed: an empty change that says so', () => {
    const { delta, unchanged } = roundTrip(base, JSON.parse(JSON.stringify({ ...base, reads: 0 })));
    expect(unchanged).toBe(true);
    expect(delta).toMatchObject({
      records: {},
      gone: [],
      tasks: [],
      tasksGone: [],
      filesAdded: [],
      filesGone: [],
    });
  });

  it.each([
    [
      'a record changed',
      (m: Manifest) => {
        m.records[task('a', 'inbox', 't1')] = rec(11, H('d'));
      },
    ],
    [
      'only a check time changed',
      (m: Manifest) => {
        m.records[task('a', 'inbox', 't1')]![4] = 9999;
      },
    ],
    [
      'a task moved (its record and its pair)',
      (m: Manifest) => {
        delete m.records[task('a', 'inbox', 't1')];
        m.records[task('a', 'outbox', 't1')] = rec(10, H('a'), 2);
        m.tasks[0] = ['t1', task('a', 'outbox', 't1')];
      },
    ],
    [
      'a task gone',
      (m: Manifest) => {
        delete m.records[task('a', 'outbox', 't2')];
        m.tasks.pop();
      },
    ],
    [
      'a task and a file added',
      (m: Manifest) => {
        m.records[task('b', 'inbox', 't3')] = rec(7);
        m.tasks.push(['t3', task('b', 'inbox', 't3')]);
        m.records['agents/b/AGENT.md'] = rec(70, H('e'), null);
        m.files.push('agents/b/AGENT.md');
      },
    ],
    [
      'a file gone, problems and reads new',
      (m: Manifest) => {
        delete m.records['agents/a/inbox/t1.files/notes.txt'];
        m.files = [];
        m.problems = [];
        m.reads = 9;
      },
    ],
  ])('%s: the change applied to the old manifest gives the new one', (_, edit) => {
    const next: Manifest = JSON.parse(JSON.stringify(base));
    edit(next);
    const { unchanged } = roundTrip(base, next);
    expect(unchanged).toBe(false);
  });

  it('any random pair of manifests round-trips (200 seeded cases)', () => {
    let seed = 20261128;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const randomManifest = (): Manifest => {
      const m = manifest({ reads: rnd(5) });
      for (let i = 0; i < 12; i++) {
        if (rnd(2) === 0) continue;
        const id = `t${i}`;
        const path = task(`a${rnd(2)}`, ['inbox', 'outbox', 'archive'][rnd(3)]!, id);
        m.records[path] = rec(rnd(3), H('abc'[rnd(3)]!), rnd(4));
        m.tasks.push([id, path]);
      }
      for (let i = 0; i < 4; i++)
        if (rnd(2) === 0) {
          const path = `agents/a0/inbox/t${i}.files/f${rnd(2)}`;
          if (m.records[path]) continue;
          m.records[path] = rec(rnd(9), H('f'), null);
          m.files.push(path);
        }
      return m;
    };
    for (let i = 0; i < 200; i++) {
      const prev = randomManifest();
      const next = randomManifest();
      const { unchanged } = roundTrip(prev, next);
      expect(unchanged).toBe(
        JSON.stringify(normal({ ...prev, reads: 0 })) === JSON.stringify(normal({ ...next, reads: 0 })),
      );
    }
  });

  it('a path named __proto__ stays a key of the records, never their prototype', () => {
    const next = manifest({ records: JSON.parse(`{"__proto__": [1, 2, "${H('a')}", null, 3]}`) });
    const merged = applyDelta(
      manifest(),
      JSON.parse(JSON.stringify(manifestDelta(manifest(), next, 'g1', 'g2').delta)),
    );
    expect(Object.keys(merged.records)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(merged.records)).toBe(null);
  });

  it('refuses a received change whose frame is broken', () => {
    const good = manifestDelta(base, base, 'g1', 'g2').delta;
    expect(checkDelta(JSON.parse(JSON.stringify(good)))).toBeDefined();
    for (const bad of [
      null,
      [],
      { ...good, since: undefined },
      { ...good, since: 'G1 with spaces' },
      { ...good, generation: 'x'.repeat(65) },
      { ...good, records: [] },
      { ...good, gone: 'agents/a' },
      { ...good, gone: ['x'.repeat(4097)] },
      { ...good, tasksGone: [7] },
      { ...good, filesAdded: {} },
      { ...good, filesGone: null },
      { ...good, tasks: {} },
      { ...good, problems: 'none' },
    ])
      expect(checkDelta(bad), JSON.stringify(bad)?.slice(0, 80)).toBeUndefined();
  });
});
