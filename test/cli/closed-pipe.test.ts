// Output to a reader that stops early (`mailroom show ID | head -1`) ends quietly: it died with an
// unhandled EPIPE stack trace. And output to a slow reader arrives whole: a command ends its process
// as soon as it is done (cli/output.ts exitWhenWritten), never before its output is written.

import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BIN, newMailroom } from '../support/cli.js';

/** A task whose body is 20,000 lines of 99 times `char`: 2 MB to show, far more than a pipe holds. */
async function sendBig(m: Awaited<ReturnType<typeof newMailroom>>, char: string): Promise<string> {
  const body = join(m.dir, 'big.md');
  await writeFile(body, `${char.repeat(99)}\n`.repeat(20_000));
  return (await m.mr(['send', 'human', 'big', '--body-file', body])).stdout.trim();
}

describe('a slow reader', () => {
  it('gets all of a 2 MB `show`, read only after the command had time to end', async () => {
    const m = await newMailroom([]);
    try {
      const id = await sendBig(m, 'y');
      const child = spawn(process.execPath, [BIN, 'show', id, '--root', m.root]);
      child.stdout.pause(); // nothing is read yet: the writer fills the pipe and must wait
      await delay(500);
      const chunks: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      child.stdout.resume();
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      const text = Buffer.concat(chunks).toString('utf8');
      expect(code).toBe(0);
      expect(text.match(/y{99}\n/g)?.length).toBe(20_000);
      expect(text.endsWith('\n')).toBe(true);
    } finally {
      await m.cleanup();
    }
  });
});

describe('a closed output pipe', () => {
  it('mailroom show | head -1 ends quietly, without an EPIPE stack trace', async () => {
    const m = await newMailroom([]);
    try {
      // 2 MB of output: far more than a pipe holds, so the writer meets the closed pipe.
      const id = await sendBig(m, 'x');
      const { code, stderr, first } = await new Promise<{
        code: number | null;
        stderr: string;
        first: string;
      }>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'show', id, '--root', m.root]);
        let err = '';
        let firstChunk = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.stdout.once('data', (d: Buffer) => {
          firstChunk = d.toString();
          child.stdout.destroy(); // what head does after its first line
        });
        child.on('close', (c) => resolve({ code: c, stderr: err, first: firstChunk }));
      });
      expect(first).toMatch(/^# agents\/human\/inbox\//);
      expect(stderr).toBe('');
      expect(code).toBe(0);
    } finally {
      await m.cleanup();
    }
  });
});
