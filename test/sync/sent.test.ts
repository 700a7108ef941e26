// The sent ledger (src/sync/sent.ts) is kept in memory between passes while its file is unchanged:
// a load takes it out and only a save puts it back, so a pass that fails before saving leaves nothing
// behind, and any rewrite of the file (another process's pass) is read again.

import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMailroom } from '../../src/mailroom.js';
import { loadSent, saveSent } from '../../src/sync/sent.js';
import { newMailroom } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeEach(async () => {
  env = await newMailroom([]);
});
afterEach(async () => env.cleanup());

const who = (id: string, attempt = 1) => ({ id, from: 'dispatch', to: 'research', attempt });

/** The ledger for `vps` saved once with t1 in it; the mailroom it belongs to. */
async function savedWithT1() {
  const mr = await openMailroom(env.root);
  const a = await loadSent(mr, 'vps');
  a.set('t1', who('t1'));
  await saveSent(mr, 'vps', a, true);
  return mr;
}

/** Another process's pass rewrites the ledger file (temp + rename), t1 at `attempt`. */
async function rewrittenElsewhere(attempt: number) {
  const file = join(env.root, '.mailroom/sync/vps.sent.json');
  await writeFile(`${file}.tmp`, JSON.stringify({ t1: who('t1', attempt) }));
  await rename(`${file}.tmp`, file);
}

describe('sent ledger', () => {
  it('a load takes it out: changes not saved are not seen by the next load', async () => {
    const mr = await savedWithT1();
    const b = await loadSent(mr, 'vps');
    expect(b.get('t1')).toEqual(who('t1'));
    b.set('t2', who('t2')); // a pass that then fails before saving
    expect((await loadSent(mr, 'vps')).has('t2')).toBe(false);
  });

  it('a rewrite of the file by another process is read again', async () => {
    const mr = await savedWithT1();
    expect((await loadSent(mr, 'vps')).get('t1')?.attempt).toBe(1);
    await rewrittenElsewhere(2);
    expect((await loadSent(mr, 'vps')).get('t1')?.attempt).toBe(2);
  });

  it('saved unchanged, it goes back as it was: the next load gets it without reading the file', async () => {
    const mr = await savedWithT1();
    const b = await loadSent(mr, 'vps');
    await saveSent(mr, 'vps', b, false);
    expect(await loadSent(mr, 'vps')).toBe(b);
  });

  it('saved unchanged after another process rewrote the file: the next load reads the file', async () => {
    const mr = await savedWithT1();
    const b = await loadSent(mr, 'vps');
    await rewrittenElsewhere(3);
    await saveSent(mr, 'vps', b, false);
    expect((await loadSent(mr, 'vps')).get('t1')?.attempt).toBe(3);
  });
});
