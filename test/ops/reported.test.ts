// The one reader of the daemon's reports (src/ops/reported.ts): a table of event sequences and what
// stays open, and the incremental tail on a real log file that grows, is cut mid-line, and is replaced.

import { appendFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MailroomEvent } from '../../src/events/log.js';
import { EventTail } from '../../src/events/tail.js';
import { foldReports } from '../../src/ops/reported.js';

const ev = (at: string, type: string, extra: Record<string, unknown> = {}): MailroomEvent => ({
  at,
  type,
  ...extra,
});
const P = 'agents/a/inbox/x.md';

const cases: { what: string; events: MailroomEvent[]; open: { kind: string; since: string }[] }[] = [
  {
    what: 'an unreadable file is open',
    events: [ev('1', 'task.unreadable', { path: P, reason: 'bad' })],
    open: [{ kind: 'unreadable', since: '1' }],
  },
  {
    what: 'fixed: closed',
    events: [ev('1', 'task.unreadable', { path: P, reason: 'bad' }), ev('2', 'task.readable', { path: P })],
    open: [],
  },
  {
    what: 'gone: closed',
    events: [
      ev('1', 'task.unreadable', { path: P, reason: 'bad' }),
      ev('2', 'task.unreadable.gone', { path: P }),
    ],
    open: [],
  },
  {
    what: 'reported again in another bad version: still open since the first',
    events: [
      ev('1', 'task.unreadable', { path: P, reason: 'a' }),
      ev('2', 'task.unreadable', { path: P, reason: 'b' }),
    ],
    open: [{ kind: 'unreadable', since: '1' }],
  },
  {
    what: 'a refused folder, then fixed',
    events: [
      ev('1', 'folder.refused', { path: 'agents/a/inbox', reason: 'a link' }),
      ev('2', 'folder.fixed', { path: 'agents/a/inbox' }),
    ],
    open: [],
  },
  {
    what: 'a quarantined far file stays until released',
    events: [ev('1', 'sync.quarantined', { path: P, host: 'vps', reason: 'from an agent of another host' })],
    open: [{ kind: 'quarantined', since: '1' }],
  },
  {
    what: 'released',
    events: [ev('1', 'sync.quarantined', { path: P, reason: 'r' }), ev('2', 'sync.released', { path: P })],
    open: [],
  },
  { what: 'other events are not reports', events: [ev('1', 'task.created', { id: 'x', path: P })], open: [] },
];

describe('reports from the event log', () => {
  for (const c of cases) {
    it(c.what, () => {
      expect([...foldReports(c.events).values()].map(({ kind, since }) => ({ kind, since }))).toEqual(c.open);
    });
  }

  it('the tail reads only what was appended, whole lines only, and starts over on a replaced log', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailroom-tail-'));
    try {
      const log = join(dir, 'events.jsonl');
      const tail = new EventTail(log);
      expect(await tail.read()).toEqual([]); // no log yet
      await writeFile(log, `${JSON.stringify(ev('1', 'a'))}\n{"at":"2","type":"b","note":"h`);
      expect((await tail.read()).map((e) => e.type)).toEqual(['a']);
      await appendFile(log, 'é"}\n');
      const [b] = await tail.read();
      expect(b).toMatchObject({ type: 'b', note: 'hé' });
      expect(await tail.read()).toEqual([]);
      await writeFile(log, `${JSON.stringify(ev('3', 'c'))}\n`);
      expect((await tail.read()).map((e) => e.type)).toEqual(['c']);
      expect(tail.restarted).toBe(true);
      // Rotated (renamed away, a new file started) after a line the tail had not read yet: the whole
      // kept log is read again, and nothing is lost.
      await appendFile(log, `${JSON.stringify(ev('4', 'd'))}\n`);
      await rename(log, join(dir, 'events.20261127T000000000Z-1-1.jsonl'));
      await writeFile(log, `${JSON.stringify(ev('5', 'e'))}\n`);
      expect((await tail.read()).map((e) => e.type)).toEqual(['c', 'd', 'e']);
      expect(tail.restarted).toBe(true);
      expect(await tail.read()).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
