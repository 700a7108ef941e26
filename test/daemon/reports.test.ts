// The daemon's reports of unreadable files (daemon/reports.ts): each is in the event log once, with a
// sidecar beside the file that a restarted daemon finds again, whatever the file's name (torture
// defects D6, D13). The daemon's own pass over a real hub.

import { readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PassState, runPass } from '../../daemon/pass.js';
import { ReportBook } from '../../daemon/reports.js';
import type { Mailroom } from '../../src/mailroom.js';
import { readEvents, taskText } from '../../torture/support.js';
import { daemonPass } from '../support/daemon.js';
import { bareR0, type TwoMachines } from '../support/two-machines.js';

let sides: TwoMachines;
let hub: string;
let hubMr: Mailroom;
beforeEach(async () => {
  ({ hub, hubMr } = sides = await bareR0());
});
afterEach(async () => sides.cleanup());

describe('a bad file with an awkward name is reported once', () => {
  // D6 (S5): a file whose name is longer than about 224 bytes cannot have a sidecar
  // (`<name>.error.txt` in a dot-named temp file exceeds NAME_MAX); the report is recorded in memory
  // before the sidecar write fails, so no event is ever logged and the file is never reported.
  it('D6: a bad file with a 240-byte name is reported', async () => {
    const name = `${'x'.repeat(240)}.md`;
    const path = join(hub, 'agents/human/inbox', name);
    await writeFile(path, taskText({ id: 'x', from: 'dispatch', to: 'human' }, 'x\n'));
    await utimes(path, new Date(Date.now() - 5000), new Date(Date.now() - 5000));
    const reported = async () =>
      (await readEvents(hub)).filter((e) => e.type === 'task.unreadable' && String(e.path).endsWith(name));
    const daemon: PassState = { reports: new ReportBook(hubMr), known: new Map() };
    await daemonPass(hub, daemon);
    await daemonPass(hub, daemon);
    expect(await reported()).toHaveLength(1);
    // The sidecar has a shortened name (the full one exceeds NAME_MAX) and names the file in full.
    const sidecars = (await readdir(join(hub, 'agents/human/inbox'))).filter((n) => n.endsWith('.error.txt'));
    expect(sidecars).toEqual([expect.stringMatching(/^x{100}-[0-9a-f]{8}\.error\.txt$/)]);
    expect(await readFile(join(hub, 'agents/human/inbox', sidecars[0]!), 'utf8')).toContain(
      `file: ${name}\n`,
    );
    // A restarted daemon finds the report in it and does not repeat it; fixed, the sidecar goes.
    const restarted: PassState = { reports: new ReportBook(hubMr), known: new Map() };
    await restarted.reports.load(['dispatch', 'human']);
    expect([...restarted.reports.open.keys()]).toEqual([path]);
    await daemonPass(hub, restarted);
    expect(await reported()).toHaveLength(1);
    await rm(path);
    await runPass(hubMr, restarted);
    expect((await readdir(join(hub, 'agents/human/inbox'))).filter((n) => n.endsWith('.error.txt'))).toEqual(
      [],
    );
  });

  // D13 (S5, full run): the sidecar named its file on a `file:` line and its first line; a name with a
  // newline split those lines, so a restarted daemon did not find its report and reported it again.
  it('D13: a bad file whose name holds a newline is reported once, across a restart', async () => {
    const name = 'line\nbreak 390.md';
    const path = join(hub, 'agents/human/inbox', name);
    await writeFile(path, '---\ntitle: [unclosed\n---\n');
    await utimes(path, new Date(Date.now() - 5000), new Date(Date.now() - 5000));
    const reported = async () =>
      (await readEvents(hub)).filter((e) => e.type === 'task.unreadable' && String(e.path).endsWith(name));
    const daemon: PassState = { reports: new ReportBook(hubMr), known: new Map() };
    await daemonPass(hub, daemon);
    await daemonPass(hub, daemon);
    expect(await reported()).toHaveLength(1);
    const restarted: PassState = { reports: new ReportBook(hubMr), known: new Map() };
    await restarted.reports.load(['dispatch', 'human']);
    expect([...restarted.reports.open.keys()]).toEqual([path]);
    await daemonPass(hub, restarted);
    expect(await reported()).toHaveLength(1);
    expect(await readFile(path, 'utf8')).toBe('---\ntitle: [unclosed\n---\n');
  });
});
