// Human output escapes control characters and bidi overrides (docs/spec.md §6, the far host is
// untrusted): a hostile title or file name can never move the cursor, write the clipboard, forge a row.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { safeLines, safeText } from '../../src/safe-text.js';
import { newMailroom } from '../support/cli.js';
import { queuedTaskFile } from '../support/task-file.js';

// OSC 52 (clipboard write), a cursor move, a newline that would forge a row, a bidi override, C1 CSI.
const HOSTILE = 'ok\u001b]52;c;ZXZpbA==\u0007\u001b[2Aforged\nFORGED ROW\u202eevil\u009b31m\u007f';

describe('safeText', () => {
  it.each([
    ['plain', 'hello, wörld', 'hello, wörld'],
    ['ESC and BEL', '\u001b]52;c;x\u0007', '\\x1b]52;c;x\\x07'],
    ['newline, CR and tab', 'a\nb\rc\td', 'a\\nb\\rc\\td'],
    ['DEL and C1', '\u007f\u009b', '\\x7f\\x9b'],
    ['bidi override and isolate', '\u202eabc\u2066', '\\u202eabc\\u2066'],
  ])('%s', (_name, input, expected) => {
    expect(safeText(input)).toBe(expected);
  });
  it('safeLines keeps newlines, tabs and CRLF ends, escapes a lone CR and ESC', () => {
    expect(safeLines('a\r\nb\n\u001bc\rd\te')).toBe('a\r\nb\n\\x1bc\\rd\te');
  });
});

describe('hostile text in human output', () => {
  let env: Awaited<ReturnType<typeof newMailroom>>;
  const id = 't-hostile';
  beforeAll(async () => {
    env = await newMailroom(['research']);
    const task = queuedTaskFile(id, JSON.stringify(HOSTILE), `body ${HOSTILE}\n`);
    await writeFile(join(env.root, `agents/research/inbox/${id}.md`), task);
    // An unreadable task with a hostile name: its path reaches `ls`'s and doctor's problem lines.
    await writeFile(join(env.root, 'agents/research/inbox/bad\u001b[2J.md'), 'not a task\n');
  });
  afterAll(async () => env.cleanup());

  const noRawControls = (out: string) => {
    expect(out).not.toContain('\u001b');
    expect(out).not.toContain('\u0007');
    expect(out).not.toContain('\u009b');
    expect(out).not.toContain('\u202e');
  };

  it('ls of a hostile title prints no ESC byte and no forged row', async () => {
    const r = await env.mr(['ls']);
    expect(r.code, r.stderr).toBe(0);
    noRawControls(r.stdout + r.stderr);
    expect(r.stdout).toContain('\\x1b]52;c;ZXZpbA==\\x07');
    expect(r.stdout.split('\n').filter((l) => l.includes('FORGED ROW'))).toHaveLength(1);
    expect(r.stdout.split('\n').find((l) => l.startsWith('FORGED'))).toBeUndefined();
  });

  it('show, status and doctor print no raw control character; --json keeps the title as written', async () => {
    for (const args of [['show', id], ['status'], ['doctor']]) {
      const r = await env.mr(args);
      noRawControls(r.stdout + r.stderr);
    }
    const json = await env.mr(['ls', '--json']);
    expect(JSON.parse(json.stdout).tasks[0].title).toBe(HOSTILE);
  });
});
