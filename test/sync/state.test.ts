// The sync state on disk: a status file that commits a snapshot plus a journal length; saves append
// only what changed; anything past the committed length is ignored; version 1 files are migrated.

import { copyFile, mkdir, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Mailroom, openMailroom } from '../../src/mailroom.js';
import {
  baseFields,
  emptyState,
  FIELDS_APART,
  loadSyncState,
  type SyncState,
  saveSyncState,
  syncDir,
} from '../../src/sync/state.js';
import { runCli, tempDir } from '../support/cli.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let mr: Mailroom;

beforeEach(async () => {
  tmp = await tempDir();
  const hub = join(tmp.dir, 'hub');
  expect((await runCli(['init', hub])).code).toBe(0);
  mr = await openMailroom(hub);
});
afterEach(async () => tmp.cleanup());

const record = (hash: string) => ({ size: 10, mtimeMs: 1_000, hash, checkedAt: 5_000 });

function sample(n: number): SyncState {
  const s = emptyState('vps');
  s.base = { tasks: {}, files: {} };
  for (let i = 0; i < n; i++) {
    const path = `agents/r/inbox/t${i}.md`;
    s.base.tasks[`t${i}`] = {
      loc: 'r/inbox',
      hash: `h${i}`,
      rank: 1,
      base: { fields: { n: i }, bodyHash: 'b' },
    };
    s.local[path] = record(`h${i}`);
    s.remote[path] = record(`h${i}`);
  }
  s.base.files['agents/r/AGENT.md'] = { hash: 'g' };
  return s;
}

const files = async () => (await readdir(syncDir(mr))).filter((n) => !n.endsWith('.lock')).sort();
const plain = (s: SyncState) => JSON.parse(JSON.stringify(s)) as SyncState;
/** `s` as plain JSON with each base record's fields as `fields` gives them (read back where kept apart). */
async function withFields(s: SyncState, fields = baseFields): Promise<SyncState> {
  const out = plain(s);
  for (const [id, r] of Object.entries(out.base?.tasks ?? {})) {
    const f = await fields(s, id);
    if (f === undefined) delete r.base;
    else r.base = f;
  }
  return out;
}
/**
 * Loads as another process would (a fresh copy of the module, without this one's last saved state),
 * as plain JSON with the base's fields read back.
 */
async function fromDisk(): Promise<SyncState> {
  vi.resetModules();
  const fresh = (await import('../../src/sync/state.js')) as typeof import('../../src/sync/state.js');
  return withFields(await fresh.loadSyncState(mr, 'vps'), fresh.baseFields);
}

describe('sync state on disk', () => {
  it('round trip: a snapshot first, then only changed records are appended', async () => {
    const s = sample(50);
    s.lastSyncAt = '2026-11-23T10:00:00.000Z';
    await saveSyncState(mr, s);
    const loaded = await fromDisk();
    expect(plain(loaded)).toEqual(plain(s));
    expect(await loadSyncState(mr, 'vps')).toBe(s); // this process keeps what it committed
    const [snapshot] = (await files()).filter((n) => n.endsWith('.json') && n !== 'vps.json');
    const snapshotBefore = await stat(join(syncDir(mr), snapshot!));

    s.base!.tasks.t3 = { loc: 'r/outbox', hash: 'x', rank: 2 };
    delete s.base!.tasks.t4;
    s.local['agents/r/inbox/t5.md'] = record('y');
    delete s.remote['agents/r/inbox/t6.md'];
    s.lastSyncAt = '2026-11-23T11:00:00.000Z';
    await saveSyncState(mr, s);
    const journal = (await files()).find((n) => n.endsWith('.journal'))!;
    const line = await readFile(join(syncDir(mr), journal), 'utf8');
    expect(line.split('\n').filter(Boolean)).toHaveLength(1);
    expect(line.length).toBeLessThan(400);
    // The snapshot is not rewritten for four changed records.
    expect((await stat(join(syncDir(mr), snapshot!))).mtimeMs).toBe(snapshotBefore.mtimeMs);
    expect(await fromDisk()).toEqual(plain(s));

    // Nothing changed: the journal stays as it is; the status still moves.
    const again = await loadSyncState(mr, 'vps');
    again.lastSyncAt = '2026-11-23T12:00:00.000Z';
    await saveSyncState(mr, again);
    expect(await readFile(join(syncDir(mr), journal), 'utf8')).toBe(line);
    expect((await fromDisk()).lastSyncAt).toBe('2026-11-23T12:00:00.000Z');
  });

  it('a record added while a snapshot is being written is saved by the next save (a checkpoint runs beside apply)', async () => {
    const s = sample(50);
    const saving = saveSyncState(mr, s);
    // Apply goes on while its checkpoint writes the snapshot: a write records the file it wrote.
    await new Promise((r) => setImmediate(r));
    s.remote['agents/r/inbox/during.md'] = record('during');
    s.local['agents/r/inbox/during.md'] = record('during');
    await saving;
    await saveSyncState(mr, s);
    const loaded = await fromDisk();
    expect(loaded.remote['agents/r/inbox/during.md']).toEqual(record('during'));
    expect(loaded.local['agents/r/inbox/during.md']).toEqual(record('during'));
  });

  it('a journal that cannot be written leaves the status file as it was (it is renamed only after)', async () => {
    const s = sample(20);
    s.lastSyncAt = '2026-11-23T10:00:00.000Z';
    await saveSyncState(mr, s);
    await saveSyncState(mr, Object.assign(s, { lastSyncAt: '2026-11-23T10:30:00.000Z' })); // no journal yet
    const statusPath = join(syncDir(mr), 'vps.json');
    const before = await readFile(statusPath, 'utf8');
    // The journal's name taken by a folder: its append fails (the status file's temp is written
    // side by side, and must not be renamed into place).
    const [snapshot] = (await files()).filter(
      (n) => n.endsWith('.json') && n !== 'vps.json' && !n.endsWith('.fields.json'),
    );
    await mkdir(join(syncDir(mr), snapshot!.replace(/\.json$/, '.journal')));
    s.base!.tasks.t1 = { loc: 'r/archive', hash: 'z', rank: 3 };
    s.lastSyncAt = '2026-11-23T11:00:00.000Z';
    await expect(saveSyncState(mr, s)).rejects.toThrow();
    expect(await readFile(statusPath, 'utf8')).toBe(before);
    expect((await files()).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('the status file is the commit point: an older copy of it brings back the older state', async () => {
    const s = sample(20);
    await saveSyncState(mr, s);
    const statusPath = join(syncDir(mr), 'vps.json');
    await copyFile(statusPath, `${statusPath}.before`);
    const loaded = await loadSyncState(mr, 'vps');
    loaded.base!.tasks.t1 = { loc: 'r/archive', hash: 'z', rank: 3 };
    await saveSyncState(mr, loaded);
    await copyFile(`${statusPath}.before`, statusPath); // as if the pass died before committing
    const back = await loadSyncState(mr, 'vps');
    expect((await withFields(back)).base!.tasks.t1).toEqual(sample(20).base!.tasks.t1);
    // The next save overwrites the uncommitted bytes instead of appending after them.
    back.base!.tasks.t2 = { loc: 'r/archive', hash: 'w', rank: 3 };
    await saveSyncState(mr, back);
    const final = await fromDisk();
    expect(final.base!.tasks.t1).toEqual(sample(20).base!.tasks.t1);
    expect(final.base!.tasks.t2).toEqual({ loc: 'r/archive', hash: 'w', rank: 3 });
  });

  it('a journal cut short of its committed length reads as far as it goes, and the next save starts afresh', async () => {
    const s = sample(5);
    await saveSyncState(mr, s);
    expect(await loadSyncState(mr, 'vps')).toBe(s);
    s.base!.tasks.t0 = { loc: 'r/outbox', hash: 'q', rank: 2 };
    await saveSyncState(mr, s);
    const journal = (await files()).find((n) => n.endsWith('.journal'))!;
    await truncate(join(syncDir(mr), journal), 3);
    const damaged = await loadSyncState(mr, 'vps'); // the kept copy no longer matches the disk
    expect(damaged).not.toBe(s);
    expect((await withFields(damaged)).base!.tasks.t1).toEqual(sample(5).base!.tasks.t1);
    await saveSyncState(mr, damaged);
    expect((await files()).filter((n) => n.endsWith('.journal'))).toEqual([]);
    expect(await fromDisk()).toEqual(await withFields(damaged));
  });

  it('a version 1 file is read and migrated by the next save; old generations are removed', async () => {
    const s = sample(10);
    s.lastError = 'boom';
    await mkdir(syncDir(mr), { recursive: true });
    await writeFile(join(syncDir(mr), 'vps.json'), JSON.stringify(s));
    const loaded = await loadSyncState(mr, 'vps');
    expect(plain(loaded)).toEqual(plain(s));
    await saveSyncState(mr, loaded);
    const status = JSON.parse(await readFile(join(syncDir(mr), 'vps.json'), 'utf8')) as { version: number };
    expect(status.version).toBe(2);
    expect(await fromDisk()).toEqual(plain(s));
    // A lost base (null) is a new snapshot; the previous one goes.
    const lost = await loadSyncState(mr, 'vps');
    lost.base = null;
    await saveSyncState(mr, lost);
    const generations = (await files()).filter((n) => n.startsWith('vps~')).map((n) => n.split('.')[0]);
    expect(new Set(generations).size).toBe(1);
    expect((await fromDisk()).base).toBeNull();
  });

  it("keeps the base's merge fields apart, read only when asked; a lost fields file costs the fields, nothing else", async () => {
    const s = sample(30);
    await saveSyncState(mr, s);
    const names = await files();
    const snapshot = names.find((n) => /^vps~[^.]+\.json$/.test(n))!;
    const fieldsFile = names.find((n) => n.endsWith('.fields.json'))!;
    expect(fieldsFile).toBe(snapshot.replace('.json', '.fields.json'));
    expect(await readFile(join(syncDir(mr), snapshot), 'utf8')).not.toContain('bodyHash');
    // A fresh load parses no fields: its records say where they are.
    vi.resetModules();
    const fresh = (await import('../../src/sync/state.js')) as typeof import('../../src/sync/state.js');
    const loaded = await fresh.loadSyncState(mr, 'vps');
    expect(loaded.base!.tasks.t7!.base).toBe(FIELDS_APART);
    expect(await fresh.baseFields(loaded, 't7')).toEqual({ fields: { n: 7 }, bodyHash: 'b' });
    expect(await fresh.baseFields(loaded, 'nope')).toBeUndefined();
    // A record changed since keeps its own fields in the journal.
    loaded.base!.tasks.t8 = {
      loc: 'r/outbox',
      hash: 'x',
      rank: 2,
      base: { fields: { n: 80 }, bodyHash: 'c' },
    };
    await fresh.saveSyncState(mr, loaded);
    expect((await fromDisk()).base!.tasks.t8!.base).toEqual({ fields: { n: 80 }, bodyHash: 'c' });
    // The fields file lost (and the journal cut, so the next save writes a new snapshot): those
    // records have no fields (apply reads the task again), the rest stands, and the new snapshot
    // claims no fields it does not hold.
    await writeFile(join(syncDir(mr), fieldsFile), '{"t7":');
    await truncate(join(syncDir(mr), (await files()).find((n) => n.endsWith('.journal'))!), 3);
    vi.resetModules();
    const again = (await import('../../src/sync/state.js')) as typeof import('../../src/sync/state.js');
    const damaged = await again.loadSyncState(mr, 'vps');
    expect(await again.baseFields(damaged, 't7')).toBeUndefined();
    expect(damaged.base!.tasks.t7!.hash).toBe('h7');
    await again.saveSyncState(mr, damaged);
    expect((await files()).filter((n) => n.endsWith('.journal'))).toEqual([]);
    const rewritten = await fromDisk();
    expect(rewritten.base!.tasks.t7).toEqual({ loc: 'r/inbox', hash: 'h7', rank: 1 });
    expect(rewritten.local).toEqual(plain(s).local);
  });

  it('a missing snapshot means no ancestor, with the status kept', async () => {
    const s = sample(3);
    s.lastSyncAt = '2026-11-23T10:00:00.000Z';
    await saveSyncState(mr, s);
    for (const n of await files()) if (n.startsWith('vps~')) await truncate(join(syncDir(mr), n), 0);
    const loaded = await loadSyncState(mr, 'vps');
    expect(loaded.base).toBeNull();
    expect(loaded.lastSyncAt).toBe('2026-11-23T10:00:00.000Z');
  });

  it('a growing journal is folded into a new snapshot', async () => {
    await saveSyncState(mr, sample(4));
    for (let round = 0; round < 200; round++) {
      const s = await loadSyncState(mr, 'vps');
      s.base!.tasks.t0 = { loc: 'r/inbox', hash: `round-${round}-${'x'.repeat(500)}`, rank: 1 };
      await saveSyncState(mr, s);
    }
    const journals = (await files()).filter((n) => n.endsWith('.journal'));
    expect(journals.length).toBeLessThanOrEqual(1);
    for (const j of journals) expect((await stat(join(syncDir(mr), j))).size).toBeLessThan(70_000);
    expect((await fromDisk()).base!.tasks.t0!.hash).toMatch(/^round-199-/);
  });
});
