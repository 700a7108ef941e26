// The `ls` cache must never show a stale task: every way a file can change under it (edit with the
// same size, mtime set back, replaced by rename, removed, turned bad) is tried against real files.

import { readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMailroom } from '../../src/mailroom.js';
import { cachedSummaries, cachePath, journalPath, type MemoryCache } from '../../src/ops/list-cache.js';
import { loadCache, unsavedAdds } from '../../src/ops/list-cache-file.js';
import { claimNext } from '../../src/ops/next.js';
import { mapLimit, readTask, scanRefs, type TaskRef } from '../../src/store/scan.js';
import { newMailroom } from '../support/cli.js';
import { pollUntil } from '../support/poll.js';
import { scriptedTaskFile } from '../support/task-file.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeEach(async () => {
  env = await newMailroom([]);
});
afterEach(async () => env.cleanup());

async function send(title: string): Promise<string> {
  const r = await env.mr(['send', 'human', title]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** One listing through the cache; `reads` counts the files actually read and parsed. */
async function list(racyMs = Number.NEGATIVE_INFINITY, memory?: MemoryCache) {
  const mr = await openMailroom(env.root);
  const { refs } = await scanRefs(mr.layout, { boxes: ['inbox', 'outbox'] });
  let reads = 0;
  const read = (miss: TaskRef[]) => {
    reads += miss.length;
    return mapLimit(miss, 8, (ref) => readTask(ref)); // not readTask itself: the index is no byte limit
  };
  const results = await cachedSummaries(mr.layout, refs, read, () => true, racyMs, memory);
  const fields = Object.fromEntries(results.map((r) => [r.ref.id, 'fields' in r ? r.fields : undefined]));
  const titles = Object.fromEntries(
    results.map((r) => [
      r.ref.id,
      'fields' in r ? r.fields.title : 'problem' in r ? `BAD ${r.problem.reason}` : 'GONE',
    ]),
  );
  return { reads, titles, fields, layout: mr.layout };
}

const pathOf = (id: string) => `${env.root}/agents/human/inbox/${id}.md`;

describe('ls cache', () => {
  it('reads each file once, then only what changed', async () => {
    const a = await send('first');
    const b = await send('second');
    expect((await list()).reads).toBe(2);
    const again = await list();
    expect(again.reads).toBe(0);
    expect(again.titles).toEqual({ [a]: 'first', [b]: 'second' });

    // The same size, and the mtime put back as it was: the ctime still tells.
    const before = await stat(pathOf(a));
    const text = await readFile(pathOf(a), 'utf8');
    await writeFile(pathOf(a), text.replace('title: first', 'title: FIRST'));
    await utimes(pathOf(a), before.atime, before.mtime);
    expect((await stat(pathOf(a))).size).toBe(before.size);
    const edited = await list();
    expect(edited.reads).toBe(1);
    expect(edited.titles[a]).toBe('FIRST');
  });

  it('follows a file replaced by rename, a removed file and a file that turned bad', async () => {
    const a = await send('alpha');
    const b = await send('beta');
    const c = await send('gamma');
    await list();
    // replaced by an editor-style save (new inode)
    const text = await readFile(pathOf(a), 'utf8');
    await writeFile(`${pathOf(a)}.new`, text.replace('title: alpha', 'title: ALPHA'));
    await rename(`${pathOf(a)}.new`, pathOf(a));
    // removed
    await unlink(pathOf(b));
    // turned into something that is not a task
    await writeFile(pathOf(c), '---\ntitle: [unclosed\n---\n');
    const after = await list();
    expect(after.titles).toEqual({ [a]: 'ALPHA', [c]: expect.stringMatching(/^BAD /) });
    expect([...loadCache(after.layout).paths()].some((rel) => rel.includes(b))).toBe(false);
    // a bad file is remembered as bad, and still reported, without a re-read
    const cached = await list();
    expect(cached.reads).toBe(0);
    expect(cached.titles[c]).toBe(after.titles[c]);
  });

  it('every field comes back from the cache file as it was read, optional ones too', async () => {
    const plain = await send('plain');
    const asked = (await env.mr(['ask', 'human', 'Which one?', '--as', 'dispatch'])).stdout.trim();
    const escalated = await send('to escalate');
    const text = await readFile(pathOf(escalated), 'utf8');
    await writeFile(pathOf(escalated), text.replace('\n---\n', '\nescalated: 2026-01-02T03:04:05Z\n---\n'));
    const read = await list();
    expect(read.reads).toBe(3);
    expect(read.fields[asked]).toMatchObject({ kind: 'question', last_by: 'dispatch' });
    expect(read.fields[escalated]).toMatchObject({ escalated: '2026-01-02T03:04:05Z' });
    expect(read.fields[plain]).not.toHaveProperty('kind');
    const cached = await list();
    expect(cached.reads).toBe(0);
    expect(cached.fields).toStrictEqual(read.fields);
  });

  it('a malformed cache file is rebuilt, not trusted', async () => {
    const a = await send('kept');
    const { layout } = await list();
    await writeFile(cachePath(layout), '{"version":5,"id":"x","rel":');
    const rebuilt = await list();
    expect(rebuilt.reads).toBe(1);
    expect(rebuilt.titles[a]).toBe('kept');
    expect(JSON.parse(await readFile(cachePath(layout), 'utf8')).version).toBe(5);
  });

  it('a listing that changed a few entries writes them to the journal, not the whole snapshot', async () => {
    const ids = [await send('one'), await send('two'), await send('three')];
    const { layout } = await list();
    const snapshot = await stat(cachePath(layout));
    const text = await readFile(pathOf(ids[0]!), 'utf8');
    await writeFile(pathOf(ids[0]!), text.replace('title: one', 'title: ONE, edited'));
    await unlink(pathOf(ids[1]!));
    expect((await list()).reads).toBe(1);
    // The snapshot is the same file; the journal holds the edit and the removal.
    expect((await stat(cachePath(layout))).ino).toBe(snapshot.ino);
    const journal = JSON.parse(await readFile(journalPath(layout), 'utf8'));
    expect(journal.rows.map((r: unknown[]) => r[0])).toEqual([`agents/human/inbox/${ids[0]}.md`]);
    expect(journal.gone).toEqual([`agents/human/inbox/${ids[1]}.md`]);
    // Snapshot and journal together answer the next listing with no read.
    const again = await list();
    expect(again.reads).toBe(0);
    expect(again.titles).toEqual({ [ids[0]!]: 'ONE, edited', [ids[2]!]: 'three' });
  });

  it('a journal that names another snapshot is ignored, and a long one becomes a new snapshot', async () => {
    const ids = [await send('one'), await send('two')];
    const { layout } = await list();
    const text = await readFile(pathOf(ids[0]!), 'utf8');
    await writeFile(pathOf(ids[0]!), text.replace('title: one', 'title: ONE'));
    await list();
    // A journal of another snapshot (a crash between a new snapshot and the journal's removal): its
    // entry would say "ONE" for a file that says something else now; it is not used at all.
    const journal = JSON.parse(await readFile(journalPath(layout), 'utf8'));
    await writeFile(journalPath(layout), JSON.stringify({ ...journal, snapshot: 'another' }));
    expect(loadCache(layout).get(`agents/human/inbox/${ids[0]}.md`)?.fields?.title).toBe('one');
    const listed = await list();
    expect(listed.reads).toBe(1); // the snapshot's stamp of that file no longer holds: read again
    expect(listed.titles[ids[0]!]).toBe('ONE');
    // Past 256 entries, the journal's changes go into a new snapshot and the journal goes.
    const more = Array.from({ length: 260 }, (_, i) => `20260101-000000-more${i}`);
    await mapLimit(more, 32, (id) => writeFile(pathOf(id), scriptedTaskFile(id, '2026-01-01T00:00:00Z')));
    expect((await list()).reads).toBe(260);
    await expect(stat(journalPath(layout))).rejects.toThrow(/ENOENT/);
    expect(loadCache(layout).size).toBe(262);
    expect((await list()).reads).toBe(0);
  });

  it('a file changed within the racy window is not cached (git rule)', async () => {
    const a = await send('fresh');
    expect((await list(2000)).reads).toBe(1);
    expect((await list(2000)).reads).toBe(1); // still read: written less than 2 s before the read
    expect((await list(2000)).titles[a]).toBe('fresh');
  });

  it('mailroom ls shows a hand edit made after the cache was built', async () => {
    const a = await send('old title');
    const { layout } = await openMailroom(env.root);
    await pollUntil(
      'the CLI to cache the task (its ctime must be 2 s old)',
      async () => {
        await env.mr(['ls']);
        return [...loadCache(layout).paths()].some((rel) => rel.includes(a));
      },
      15_000,
      200,
    );
    const text = await readFile(pathOf(a), 'utf8');
    await writeFile(pathOf(a), text.replace('title: old title', 'title: a much newer title'));
    const ls = await env.mr(['ls']);
    expect(ls.stdout).toContain('a much newer title');
    expect(ls.stdout).not.toContain('old title');
  });
  it('a memory cache (mcp, board) re-reads a racy file, and parses it again only when its text changed', async () => {
    const a = await send('fresh');
    const memory: MemoryCache = {};
    expect((await list(2000, memory)).reads).toBe(1);
    const same = await list(2000, memory); // read again (racy), but the same text: not parsed again
    expect(same.reads).toBe(0);
    expect(same.titles[a]).toBe('fresh');
    // Another writer changes it in place, the same size and within the same moment.
    const before = await stat(pathOf(a));
    const text = await readFile(pathOf(a), 'utf8');
    await writeFile(pathOf(a), text.replace('title: fresh', 'title: FRESH'));
    await utimes(pathOf(a), before.atime, before.mtime);
    const changed = await list(2000, memory);
    expect(changed.reads).toBe(1);
    expect(changed.titles[a]).toBe('FRESH');
  });

  it('a memory cache trusts a stamp only while it matches', async () => {
    const a = await send('kept');
    const memory: MemoryCache = {};
    expect((await list(Number.NEGATIVE_INFINITY, memory)).reads).toBe(1);
    expect((await list(Number.NEGATIVE_INFINITY, memory)).reads).toBe(0);
    const before = await stat(pathOf(a));
    const text = await readFile(pathOf(a), 'utf8');
    await writeFile(pathOf(a), text.replace('title: kept', 'title: KEPT'));
    await utimes(pathOf(a), before.atime, before.mtime);
    const edited = await list(Number.NEGATIVE_INFINITY, memory);
    expect(edited.reads).toBe(1);
    expect(edited.titles[a]).toBe('KEPT');
    await unlink(pathOf(a));
    expect((await list(Number.NEGATIVE_INFINITY, memory)).titles).toEqual({});
  });

  it('a memory cache shows its own claim from the stamp it took, and any later write at once', async () => {
    const a = await send('to claim');
    const mr = await openMailroom(env.root);
    const memory: MemoryCache = {};
    expect((await list(2000, memory)).reads).toBe(1);
    const claimed = await claimNext(mr, 'human', { memory });
    expect(claimed?.after.id).toBe(a);
    expect(memory.recent?.get(pathOf(a))?.stamp).toBeDefined();
    const own = await list(2000, memory);
    expect(own.reads).toBe(0);
    expect(own.titles[a]).toBe('to claim');
    // Another writer, in place, the same size, with the mtime set back: the stamp no longer holds.
    const before = await stat(pathOf(a));
    const text = await readFile(pathOf(a), 'utf8');
    await writeFile(pathOf(a), text.replace('title: to claim', 'title: TO CLAIM'));
    await utimes(pathOf(a), before.atime, before.mtime);
    const edited = await list(2000, memory);
    expect(edited.reads).toBe(1);
    expect(edited.titles[a]).toBe('TO CLAIM');
  });

  it('a memory cache updated in place drops the entries of files that are gone', async () => {
    const ids = [await send('one'), await send('two')];
    const memory: MemoryCache = {};
    await list(Number.NEGATIVE_INFINITY, memory);
    await unlink(pathOf(ids[0]!));
    for (let i = 0; i < 64; i++) expect((await list(Number.NEGATIVE_INFINITY, memory)).reads).toBe(0);
    expect([...memory.entries!.keys()].some((rel) => rel.includes(ids[0]!))).toBe(false);
    expect([...memory.entries!.keys()].some((rel) => rel.includes(ids[1]!))).toBe(true);
  });

  it('a few changed files in a large cache are read again rather than written (unsavedAdds); a gone file is written', async () => {
    // 1,700 tasks written as files: past 1,600 entries, up to 16 new entries wait unsaved.
    const at = '2026-01-01T00:00:00Z';
    const ids = Array.from({ length: 1700 }, (_, i) => `20260101-000000-x${i}`);
    await mapLimit(ids, 32, (id) => writeFile(pathOf(id), scriptedTaskFile(id, at)));
    const { layout } = await list();
    expect(unsavedAdds(loadCache(layout).size)).toBe(16);
    const snapshot = await stat(cachePath(layout));
    const edit = async (id: string, title: string) =>
      writeFile(pathOf(id), (await readFile(pathOf(id), 'utf8')).replace(/title: .*/, `title: ${title}`));
    await edit(ids[0]!, 'changed once');
    const first = await list();
    expect(first.reads).toBe(1);
    expect(first.titles[ids[0]!]).toBe('changed once');
    // Nothing written: neither snapshot nor journal. The old entry stays and never matches again.
    expect((await stat(cachePath(layout))).ino).toBe(snapshot.ino);
    await expect(stat(journalPath(layout))).rejects.toThrow(/ENOENT/);
    expect((await list()).reads).toBe(1);
    // Sixteen more: now worth a write, and the next listing reads nothing.
    for (const id of ids.slice(1, 17)) await edit(id, 'changed too');
    expect((await list()).reads).toBe(17);
    expect(JSON.parse(await readFile(journalPath(layout), 'utf8')).rows).toHaveLength(17);
    expect((await list()).reads).toBe(0);
    // A file that is gone is written at once (its entry would otherwise be carried forever).
    await unlink(pathOf(ids[100]!));
    await list();
    expect(JSON.parse(await readFile(journalPath(layout), 'utf8')).gone).toEqual([
      `agents/human/inbox/${ids[100]}.md`,
    ]);
  });
});
