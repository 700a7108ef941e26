// Short ids: ids sent in the same second share their first 16 characters, so a prefix rarely helps;
// the random suffix, or any unique part of the id, works as a key, and an ambiguous key lists the
// tasks it matches.

import { describe, expect, it } from 'vitest';
import { newMailroom } from '../support/cli.js';

describe('task ids on the command line', () => {
  it('the random suffix works as a key (it did not), and an ambiguous part lists the candidates', async () => {
    const m = await newMailroom();
    try {
      const a = (await m.mr(['send', 'research', 'first'])).stdout.trim();
      const b = (await m.mr(['send', 'human', 'second'])).stdout.trim();
      const suffix = a.slice(-4);
      const show = await m.mr(['show', suffix, '--json']);
      expect(show.stderr).toBe('');
      expect(JSON.parse(show.stdout).task.id).toBe(a);
      expect((await m.mr(['ack', a.slice(-6)])).code).toBe(0); // a part spanning the time and the suffix
      const both = await m.mr(['show', a.slice(0, 8)]); // the date: both tasks carry it
      expect(both.code).toBe(1);
      expect(both.stderr).toContain(`ambiguous: it matches 2 tasks: `);
      expect(both.stderr).toContain(`${a} (agents/research/inbox)`);
      expect(both.stderr).toContain(`${b} (agents/human/inbox)`);
    } finally {
      await m.cleanup();
    }
  });
});
