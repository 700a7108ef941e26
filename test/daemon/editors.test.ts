// Real editors on task files while the real daemon runs. People edit tasks in vim and with sed; those
// tools save in ways mailroom's own atomic writes never do (truncate then write in place, rename the
// old file to a backup and write a new one, probe files like `4913`, swap files, `~` backups). The
// daemon must leave every such save alone: the edit survives byte for byte, nothing is reported
// unreadable, nothing moves or is duplicated, and no editor leftover is taken for a task.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTask } from '../../src/task/parse.js';
import { newMailroom, REPO } from '../support/cli.js';
import { box, type DaemonHandle, events, type LogEvent, locations, startDaemon } from '../support/daemon.js';
import { pollUntil } from '../support/poll.js';

const execFileP = promisify(execFile);
const VIM = '/usr/bin/vim';
// No vimrc, no viminfo, Ex mode without a terminal. `backupskip=` because vim skips its backup dance
// for files under /tmp by default, and that dance (copy or rename to `<file>~`) is what we want here.
const VIM_BASE = ['-u', 'NONE', '-i', 'NONE', '-es', '-c', 'set backupskip='];
const INPLACE_SAVE = join(REPO, 'test/fixtures/inplace-save.mjs');

let env: Awaited<ReturnType<typeof newMailroom>>;
let daemon: DaemonHandle | undefined;
beforeEach(async () => {
  env = await newMailroom(['research']);
  daemon = await startDaemon(env.root, ['--rescan', '1s']);
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await env.cleanup();
});

const inboxPath = (id: string) => join(env.root, `agents/research/inbox/${id}.md`);

interface Status {
  passes: number;
  unreadable: number;
  lastError?: string;
}
const status = async () =>
  JSON.parse(await readFile(join(env.root, '.mailroom/daemon.json'), 'utf8')) as Status;

/**
 * Wait until the daemon has run `n` more passes. The pass in flight when we look may have scanned
 * before our change; the one after it started later, so two passes mean one full look at least.
 */
async function morePasses(n = 2): Promise<void> {
  const from = (await status()).passes;
  await pollUntil(`${n} more daemon passes`, async () => (await status()).passes >= from + n, 20_000);
}

/** A queued task from dispatch to research, already seen by the daemon (so edits are judged). */
async function sendTask(): Promise<string> {
  const r = await env.mr([
    'send',
    'research',
    'old title',
    '--as',
    'dispatch',
    '--body',
    'Read the logs and say what broke.',
  ]);
  expect(r.code).toBe(0);
  const id = r.stdout.trim();
  await pollUntil(
    'the daemon to see the new task',
    async () => {
      const known = await readFile(join(env.root, '.mailroom/known-states.json'), 'utf8').catch(() => '{}');
      return (JSON.parse(known) as Record<string, { state: string }>)[id]?.state === 'queued';
    },
    15_000,
  );
  return id;
}

/** Event log length now, so a test can look at only what happened after it. */
const eventCount = async () => (await events(env.root)).length;
const eventsSince = async (n: number): Promise<LogEvent[]> => (await events(env.root)).slice(n);

/**
 * The daemon let the edit be: after two more passes the file holds exactly what the editor saved,
 * the task is in research's inbox once, the only other names there are the editor's own leftovers,
 * the daemon logged nothing (no report, no completion, no move), and `mailroom doctor` is content.
 */
async function expectLeftAlone(id: string, saved: string, since: number, leftovers: string[] = []) {
  await morePasses(2);
  expect(await readFile(inboxPath(id), 'utf8')).toBe(saved);
  expect(Object.fromEntries(await locations(env.root))).toEqual({ [id]: ['research/inbox'] });
  expect(await box(env.root, 'research', 'inbox')).toEqual([`${id}.md`, ...leftovers].sort());
  expect(await eventsSince(since)).toEqual([]);
  const s = await status();
  expect(s.unreadable).toBe(0);
  expect(s.lastError).toBeUndefined();
  const doctor = await env.mr(['doctor', '--json']);
  expect(JSON.parse(doctor.stdout).findings).toEqual([]);
  expect(doctor.code).toBe(0);
}

const retitled = (text: string) => {
  const out = text.replace(/^title: old title$/m, 'title: new title');
  expect(out).not.toBe(text);
  return out;
};

describe('vim saves a task while the daemon runs', () => {
  it.each([
    {
      how: 'in place (backupcopy=yes: copy to <file>~, truncate, write, remove the copy)',
      set: 'set backupcopy=yes',
      leftovers: () => [],
    },
    {
      how: 'by rename (backupcopy=no: rename to <file>~, write a new file, remove the old)',
      set: 'set backupcopy=no',
      leftovers: () => [],
    },
    {
      how: 'with backupcopy=auto (probe file 4913, then the rename save)',
      set: 'set backupcopy=auto',
      leftovers: () => [],
    },
    {
      how: 'with `backup` on, which leaves <file>~ beside the task for good',
      set: 'set backup backupcopy=no',
      leftovers: (id: string) => [`${id}.md~`],
    },
  ])('$how: the edit survives, nothing is reported, moved or duplicated', async ({ set, leftovers }) => {
    const id = await sendTask();
    const path = inboxPath(id);
    const saved = retitled(await readFile(path, 'utf8'));
    const since = await eventCount();
    await execFileP(VIM, [
      ...VIM_BASE,
      '-c',
      set,
      '-c',
      '%s/^title: old title$/title: new title/',
      '-c',
      'wq',
      path,
    ]);
    expect(await readFile(path, 'utf8')).toBe(saved);
    await expectLeftAlone(id, saved, since, leftovers(id));
    const parsed = parseTask(saved, id);
    expect(parsed.ok && parsed.value.task.title).toBe('new title');
  });

  it('an open session with its swap file beside the task: the daemon scans around it, and the saves survive', async () => {
    const id = await sendTask();
    const path = inboxPath(id);
    const swap = join(env.root, `agents/research/inbox/.${id}.md.swp`);
    const original = await readFile(path, 'utf8');
    const since = await eventCount();
    // vim -es reads Ex commands from stdin: the session stays open until we send `q`.
    const vim = spawn(VIM, [...VIM_BASE, '-c', 'set swapfile directory=. backupcopy=no', path], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let vimOut = '';
    vim.stdout.on('data', (d: Buffer) => (vimOut += d.toString()));
    vim.stderr.on('data', (d: Buffer) => (vimOut += d.toString()));
    const exited = new Promise<number | null>((resolve) => vim.on('exit', (code) => resolve(code)));
    try {
      await pollUntil('vim to open the task (its swap file)', () => existsSync(swap), 15_000);
      await morePasses(2); // the daemon scans the box with the swap file in it
      expect(await readFile(path, 'utf8')).toBe(original);

      // First save: the title.
      const first = retitled(original);
      vim.stdin.write('%s/^title: old title$/title: new title/\nw\n');
      await pollUntil(
        'the first save',
        async () => (await readFile(path, 'utf8').catch(() => '')) === first,
        15_000,
      );
      await morePasses(2);
      expect(existsSync(swap)).toBe(true);
      expect(await readFile(path, 'utf8')).toBe(first);

      // Second save in the same session: a line appended to the body.
      const second = `${first}Also check the cron job.\n`;
      vim.stdin.write('$a\nAlso check the cron job.\n.\nw\n');
      await pollUntil(
        'the second save',
        async () => (await readFile(path, 'utf8').catch(() => '')) === second,
        15_000,
      );
      await morePasses(2);
      expect(existsSync(swap)).toBe(true);

      vim.stdin.end('q\n');
      expect(await exited, vimOut).toBe(0);
      expect(existsSync(swap)).toBe(false);
      await expectLeftAlone(id, second, since);
    } finally {
      if (vim.exitCode === null) vim.kill('SIGKILL');
    }
  });
});

describe('sed -i saves a task while the daemon runs', () => {
  it.each([
    { how: 'sed -i (a temp file renamed over the task)', flag: '-i', leftovers: () => [] },
    { how: 'sed -i~ (also keeps <file>~)', flag: '-i~', leftovers: (id: string) => [`${id}.md~`] },
  ])('$how: the edit survives, nothing is reported, moved or duplicated', async ({ flag, leftovers }) => {
    const id = await sendTask();
    const path = inboxPath(id);
    const saved = retitled(await readFile(path, 'utf8'));
    const since = await eventCount();
    await execFileP('sed', [flag, 's/^title: old title$/title: new title/', path]);
    expect(await readFile(path, 'utf8')).toBe(saved);
    await expectLeftAlone(id, saved, since, leftovers(id));
  });
});

describe('an in-place save that leaves the file half written for a moment', () => {
  it('truncate, first part, pause, rest — repeated — is never reported unreadable', async () => {
    const id = await sendTask();
    const path = inboxPath(id);
    const text = await readFile(path, 'utf8');
    const closing = text.indexOf('\n---\n', 4) + 1;
    // Every cut leaves an unreadable first part: nothing, the opening line, mid-field, mid-history,
    // and mid-way through the closing `---`.
    const cuts = [0, 4, text.indexOf('state:') + 4, text.indexOf('history:') + 10, closing - 3, closing + 2];
    for (const cut of cuts) expect(parseTask(text.slice(0, cut), id).ok).toBe(false);
    const since = await eventCount();

    const editor = spawn(process.execPath, [INPLACE_SAVE, path], { stdio: ['pipe', 'pipe', 'inherit'] });
    const saved: string[] = [];
    createInterface({ input: editor.stdout }).on('line', (l) => saved.push(l));
    try {
      for (const [i, cut] of cuts.entries()) {
        // Each truncate wakes the daemon (a file event) while the first part sits there for 100 ms.
        editor.stdin.write(`${cut} 100\n`);
        await pollUntil(`save ${i + 1}`, () => saved.length === i + 1, 15_000);
        expect(await readFile(path, 'utf8')).toBe(text);
        await morePasses(1);
      }
    } finally {
      editor.stdin.end();
      editor.kill();
    }
    await expectLeftAlone(id, text, since);
  });
});

describe('a person finishing a task by editing the file', () => {
  it.each([
    {
      how: 'a plain write of `state: done` and a result',
      edit: async (path: string) => {
        const text = (await readFile(path, 'utf8')).replace(/^state: queued$/m, 'state: done');
        await writeFile(path, `${text}\n## Result\n\nDone by hand.\n`);
      },
    },
    {
      how: 'sed -i on the state line',
      edit: async (path: string) => {
        await execFileP('sed', ['-i', 's/^state: queued$/state: done/', path]);
      },
    },
  ])('$how: the task goes inbox -> outbox -> the sender, bytes unchanged', async ({ edit }) => {
    const id = await sendTask();
    const path = inboxPath(id);
    const since = await eventCount();
    await edit(path);
    const edited = await readFile(path, 'utf8');
    const parsed = parseTask(edited, id);
    expect(parsed.ok && parsed.value.task.state).toBe('done');
    await pollUntil(
      'the task to reach the sender',
      async () => {
        const where = (await locations(env.root)).get(id);
        return where?.length === 1 && where[0] === 'dispatch/inbox';
      },
      15_000,
    );
    // The event is appended after the move; a finished pass has written all of its events.
    await morePasses(2);
    expect(await readFile(join(env.root, `agents/dispatch/inbox/${id}.md`), 'utf8')).toBe(edited);
    const mine = (await eventsSince(since)).filter((e) => e.id === id || e.type === 'task.unreadable');
    expect(mine.map((e) => [e.type, e.from, e.to])).toEqual([
      ['task.moved', 'research', 'research'],
      ['task.routed', 'research', 'dispatch'],
    ]);
    expect(await box(env.root, 'research', 'outbox')).toEqual([]);
  });
});
