// `mailroom status` reads only the status of each host's last sync (<host>.json), never the whole
// sync state (snapshot and journal, which grow with the number of tasks).

import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Mailroom, openMailroom } from '../../src/mailroom.js';
import { addHost } from '../../src/ops/setup.js';
import { statusReport } from '../../src/ops/status.js';
import { emptyState, saveSyncState, syncDir, syncStatePath } from '../../src/sync/state.js';
import { newMailroom } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
let mr: Mailroom;
beforeEach(async () => {
  env = await newMailroom([]);
  mr = await openMailroom(env.root);
  await addHost(mr, 'vps', 'deploy@203.0.113.7', { root: '/srv/mr' });
  mr = await openMailroom(env.root);
});
afterEach(async () => env.cleanup());

describe('status and the sync state', () => {
  it('status does not load the whole sync state for lastSyncAt (the snapshot is never opened)', async () => {
    const state = emptyState('vps');
    state.base = { tasks: {}, files: {} };
    state.lastSyncAt = '2026-11-22T10:00:00.000Z';
    await saveSyncState(mr, state);
    const status = JSON.parse(await readFile(syncStatePath(mr, 'vps'), 'utf8')) as { snapshot: string };
    // The snapshot replaced by a FIFO no one writes to: opening it would wait forever.
    const snapshot = join(syncDir(mr), `vps~${status.snapshot}.json`);
    await rm(snapshot);
    execFileSync('mkfifo', [snapshot]);
    const report = await statusReport(mr);
    expect(report.hosts).toMatchObject([{ name: 'vps', lastSync: '2026-11-22T10:00:00.000Z' }]);
  });
});
