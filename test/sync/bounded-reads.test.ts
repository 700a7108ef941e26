// Sizes the far host controls are bounded (docs/spec.md §6): a file over a limit is skipped and
// reported by name, the rest of the pass goes on, and the pass says it was partial (exit 3).

import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { locations } from '../support/daemon.js';
import { describeWithSshd } from '../support/sshd.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

describeWithSshd('bounded reads from a far host', (sshd) => {
  let env: TwoMachines;
  beforeAll(async () => {
    env = await twoMachines({ sshd: sshd() });
  });
  afterAll(async () => env.cleanup());

  it('a 5 GB sparse far file does not stop the good task beside it and is reported by name', async () => {
    const { hub, far, cli } = env;
    const id = (await cli(hub, ['send', 'research', 'Find it', '--as', 'dispatch'])).stdout.trim();
    expect((await cli(hub, ['sync'])).code).toBe(0);
    for (const args of [
      ['ack', id],
      ['start', id],
      ['done', id, '--result', 'Found.'],
    ])
      expect((await cli(far, args)).code).toBe(0);
    const blobDir = join(far, `agents/research/outbox/${id}.files`);
    await mkdir(blobDir, { recursive: true });
    execFileSync('truncate', ['-s', '5G', join(blobDir, 'blob')]);
    await writeFile(join(blobDir, 'notes.txt'), 'small and fine\n');

    const r = await cli(hub, ['sync']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`agents/research/outbox/${id}.files/blob`);
    expect(r.stderr).toMatch(/5\.0 GB, over the 256\.0 MB limit/);
    expect(r.stderr, r.stderr).toContain('partial');
    // The good task and the small file beside the blob arrived; the blob did not.
    expect((await locations(hub)).get(id)).toEqual(['research/outbox']);
    expect(await readFile(join(hub, `agents/research/outbox/${id}.files/notes.txt`), 'utf8')).toBe(
      'small and fine\n',
    );
    await expect(stat(join(hub, `agents/research/outbox/${id}.files/blob`))).rejects.toThrow();
    // The far blob is kept as it is, and the next pass says the same thing again (never "deleted").
    expect((await stat(join(blobDir, 'blob'))).size).toBe(5 * 1024 ** 3);
    const again = await cli(hub, ['sync']);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain(`${id}.files/blob`);
    expect((await stat(join(blobDir, 'blob'))).size).toBe(5 * 1024 ** 3);
    await rm(join(blobDir, 'blob'));
    expect((await cli(hub, ['sync'])).code).toBe(0);
  });

  it('a task file over limits.task_file is skipped by name; a smaller limit is honoured', async () => {
    const { hub, far, cli } = env;
    const id = (await cli(hub, ['send', 'research', 'Big body', '--as', 'dispatch'])).stdout.trim();
    expect((await cli(hub, ['sync'])).code).toBe(0);
    const path = join(far, `agents/research/inbox/${id}.md`);
    await writeFile(path, `${await readFile(path, 'utf8')}\n${'x'.repeat(5 * 1024 * 1024)}\n`);
    const r = await cli(hub, ['sync']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`agents/research/inbox/${id}.md`);
    expect(r.stderr).toContain('limits.task_file');
    // The hub's copy is neither deleted nor replaced.
    expect((await locations(hub)).get(id)).toEqual(['research/inbox']);
    expect((await stat(join(hub, `agents/research/inbox/${id}.md`))).size).toBeLessThan(100_000);
    // Raised in mailroom.yaml, the same file comes through.
    const config = join(hub, 'mailroom.yaml');
    await writeFile(config, `${await readFile(config, 'utf8')}limits:\n  task_file: 8MB\n`);
    const ok = await cli(hub, ['sync']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await stat(join(hub, `agents/research/inbox/${id}.md`))).size).toBeGreaterThan(5 * 1024 * 1024);
  });
});
