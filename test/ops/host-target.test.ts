import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMailroom } from '../../src/mailroom.js';
import { addHost } from '../../src/ops/setup.js';
import { newMailroom } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom([]);
});
afterAll(async () => env.cleanup());

// `host add` and the connection read a target with one parser (src/ssh/target.ts). There were two,
// and they disagreed both ways.
describe('host add reads the target as the connection will', () => {
  it('refuses .x@host at host add (was: accepted, then refused at connect)', async () => {
    const mr = await openMailroom(env.root);
    await expect(addHost(mr, 'dotuser', '.x@host', { root: '/srv/mr' })).rejects.toThrow(
      /not a valid user name/,
    );
    expect(await readFile(mr.layout.configPath, 'utf8')).not.toContain('dotuser');
  });

  it('accepts [fe80::1%eth0]:22 at host add (was: refused, though connect reads it)', async () => {
    const mr = await openMailroom(env.root);
    await addHost(mr, 'linklocal', '[fe80::1%eth0]:22', { root: '/srv/mr' });
    expect(await readFile(mr.layout.configPath, 'utf8')).toContain('[fe80::1%eth0]:22');
  });
});
