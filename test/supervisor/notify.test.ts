// runNotify with real /bin/sh processes in real temp folders: what the command receives, what it can
// never be made to run, and how a failing or hanging command ends.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type NotifyFields, notifyEnv, runNotify } from '../../src/supervisor/notify.js';
import { pollUntil } from '../support/poll.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-notify-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FIELDS: NotifyFields = {
  id: '20261122-101500-k3f9',
  title: 'Summarise five articles',
  reason: 'not acknowledged within 5m (worker research presumed down)',
  from: 'dispatch',
  to: 'research',
  state: 'queued',
  priority: 'high',
  path: '/srv/mailroom/agents/research/inbox/20261122-101500-k3f9.md',
  root: '/srv/mailroom',
};

const VARS: Record<keyof NotifyFields, string> = {
  id: 'MAILROOM_ID',
  title: 'MAILROOM_TITLE',
  reason: 'MAILROOM_REASON',
  from: 'MAILROOM_FROM',
  to: 'MAILROOM_TO',
  state: 'MAILROOM_STATE',
  priority: 'MAILROOM_PRIORITY',
  path: 'MAILROOM_PATH',
  root: 'MAILROOM_ROOT',
};

/** A command that writes every variable, byte for byte, to a file named after it. */
const DUMP_ALL = Object.values(VARS)
  .map((v) => `printf '%s' "$${v}" > ${v}.txt`)
  .join('; ');

const read = (name: string) => readFile(join(dir, name), 'utf8');

describe('runNotify: what the command receives', () => {
  it('every field arrives in its MAILROOM_* variable, exactly', async () => {
    const r = await runNotify(DUMP_ALL, FIELDS, { cwd: dir });
    expect(r).toEqual({ ok: true, code: 0, stderr: '', timedOut: false });
    for (const [key, v] of Object.entries(VARS)) {
      expect(await read(`${v}.txt`), v).toBe(FIELDS[key as keyof NotifyFields]);
    }
  });

  it('a hostile title runs nothing and arrives byte-exact', async () => {
    const title = [
      '$(touch pwned1)',
      '`touch pwned2`',
      '; touch pwned3',
      '" && touch pwned4 && "',
      "' ; touch pwned5 ; '",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell expansion is the point
      '$((1+1)) ${HOME} \\n \\',
      'line two\r\nline three\n',
    ].join('\n');
    const r = await runNotify(
      // The recommended shape from docs/spec.md §5, plus a copy of the title for comparison.
      `printf '%s' "$MAILROOM_TITLE: $MAILROOM_REASON" > both.txt; printf '%s' "$MAILROOM_TITLE" > out.txt`,
      { ...FIELDS, title, reason: '$(touch pwned6)' },
      { cwd: dir },
    );
    expect(r.ok, r.stderr).toBe(true);
    expect(await read('out.txt')).toBe(title);
    expect(await read('both.txt')).toBe(`${title}: $(touch pwned6)`);
    expect((await readdir(dir)).sort()).toEqual(['both.txt', 'out.txt']);
  });

  it('NUL bytes, which no environment can carry, are dropped instead of failing the run', async () => {
    const r = await runNotify(
      `printf '%s' "$MAILROOM_TITLE" > out.txt`,
      { ...FIELDS, title: 'a\0b\0' },
      { cwd: dir },
    );
    expect(r.ok, r.stderr).toBe(true);
    expect(await read('out.txt')).toBe('ab');
  });

  it('a very long field is capped rather than refused by the kernel', async () => {
    const r = await runNotify(
      `printf '%s' "$MAILROOM_TITLE" > out.txt`,
      { ...FIELDS, title: 'x'.repeat(1_000_000) },
      { cwd: dir },
    );
    expect(r.ok, r.stderr).toBe(true);
    const got = await read('out.txt');
    expect(got.length).toBeLessThan(20_000);
    expect(got.startsWith('xxxx')).toBe(true);
  });

  it('MAILROOM_* variables of the daemon itself do not leak in; others (PATH) do', () => {
    const env = notifyEnv(FIELDS, {
      PATH: '/usr/bin',
      MAILROOM_AGENT: 'dispatch',
      MAILROOM_ROOT: '/elsewhere',
    });
    expect(env.PATH).toBe('/usr/bin');
    expect(env.MAILROOM_AGENT).toBeUndefined();
    expect(env.MAILROOM_ROOT).toBe('/srv/mailroom');
    expect(
      Object.keys(env)
        .filter((k) => k.startsWith('MAILROOM_'))
        .sort(),
    ).toEqual(Object.values(VARS).sort());
  });

  it('runs in the given folder', async () => {
    const r = await runNotify('pwd > where.txt', FIELDS, { cwd: dir });
    expect(r.ok).toBe(true);
    expect((await read('where.txt')).trim()).toMatch(/mailroom-notify-/);
  });
});

describe('runNotify: how it ends', () => {
  it('a failing command returns ok:false with its exit code and stderr, without throwing', async () => {
    const r = await runNotify('echo "notify-send: no display" >&2; exit 7', FIELDS, { cwd: dir });
    expect(r).toEqual({ ok: false, code: 7, stderr: 'notify-send: no display\n', timedOut: false });
  });

  it('a command that does not exist is a failure (127), not an exception', async () => {
    const r = await runNotify('definitely-not-a-command-mailroom', FIELDS, { cwd: dir });
    expect(r.ok).toBe(false);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/not found/);
  });

  it('a folder that does not exist is a failure, not an exception', async () => {
    const r = await runNotify('true', FIELDS, { cwd: join(dir, 'missing') });
    expect(r.ok).toBe(false);
    expect(r.code).toBeNull();
    expect(r.stderr).toMatch(/could not run notify/);
  });

  it('captured stderr is capped', async () => {
    const r = await runNotify(`head -c 200000 /dev/zero | tr '\\0' e >&2; exit 1`, FIELDS, { cwd: dir });
    expect(r.ok).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr.length).toBeLessThan(10_000);
    expect(r.stderr).toMatch(/^e+\n\[stderr truncated at \d+ bytes\]$/);
  });

  it('a hanging command is killed at the timeout, with what it started', async () => {
    const started = Date.now();
    // The shell starts a grandchild and waits on it: killing only the shell would leave it behind.
    const r = await runNotify('echo waiting >&2; sleep 30 & echo $! > child.pid; wait', FIELDS, {
      cwd: dir,
      timeoutMs: 500,
    });
    const elapsed = Date.now() - started;
    expect(r).toMatchObject({ ok: false, code: null, timedOut: true, stderr: 'waiting\n' });
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(5_000);
    const pid = Number((await read('child.pid')).trim());
    expect(pid).toBeGreaterThan(0);
    await pollUntil(`sleep ${pid} to be gone`, () => isGone(pid));
  });

  it('a command that finishes in time is not reported as timed out', async () => {
    const r = await runNotify('exit 0', FIELDS, { cwd: dir, timeoutMs: 5_000 });
    expect(r).toEqual({ ok: true, code: 0, stderr: '', timedOut: false });
  });

  it('a command that backgrounds a child holding stderr still returns once the shell exits', async () => {
    const started = Date.now();
    const r = await runNotify('sleep 3 & echo sent >&2; exit 0', FIELDS, { cwd: dir, timeoutMs: 10_000 });
    expect(r).toEqual({ ok: true, code: 0, stderr: 'sent\n', timedOut: false });
    expect(Date.now() - started).toBeLessThan(2_500);
  });
});

/** Gone, or a zombie nobody has reaped yet (a container's init may be slow to): either way, dead. */
async function isGone(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name, is the state.
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
