// `mailroom hooks install|uninstall claude|codex`: merged into the user's settings (never
// overwritten), removed exactly, and the installed command tells a session what is new since its
// last look, and nothing at all when nothing is.

import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMailroom, runCli } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research']);
});
afterAll(async () => env.cleanup());

const original = {
  permissions: { allow: ['Bash(npm test:*)'] },
  hooks: {
    SessionStart: [{ matcher: 'startup', hooks: [{ type: 'command', command: 'echo welcome' }] }],
    Stop: [{ hooks: [{ type: 'command', command: 'echo bye' }] }],
  },
};

const hooks = (args: string[], cwd: string) => runCli(['hooks', ...args, '--root', env.root], { cwd });

/** Run a hook command the way Claude Code and Codex do: /bin/sh -c, in the project folder. */
async function runHook(command: string, cwd: string): Promise<string> {
  const env2 = { ...process.env };
  delete env2.MAILROOM_ROOT;
  delete env2.MAILROOM_AGENT;
  const { stdout } = await promisify(execFile)('/bin/sh', ['-c', command], { cwd, env: env2 });
  return stdout;
}

describe('hooks for Claude Code', () => {
  it('merges into .claude/settings.json, runs, stays silent when nothing is new, and uninstalls exactly', async () => {
    const project = join(env.dir, 'project');
    await mkdir(join(project, '.claude'), { recursive: true });
    const path = join(project, '.claude/settings.json');
    const originalText = `${JSON.stringify(original, null, 2)}\n`;
    await writeFile(path, originalText);

    const r = await hooks(['install', 'claude', '--as', 'research'], project);
    expect(r.code, r.stderr).toBe(0);
    const installed = JSON.parse(await readFile(path, 'utf8'));
    expect(installed.permissions).toEqual(original.permissions);
    expect(installed.hooks.Stop).toEqual(original.hooks.Stop);
    expect(installed.hooks.SessionStart[0]).toEqual(original.hooks.SessionStart[0]);
    expect(installed.hooks.SessionStart).toHaveLength(2);
    expect(installed.hooks.UserPromptSubmit).toHaveLength(1);
    const command: string = installed.hooks.UserPromptSubmit[0].hooks[0].command;
    expect(command).toContain('hooks check --as research');

    // Installing twice adds nothing.
    const textAfterFirst = await readFile(path, 'utf8');
    expect((await hooks(['install', 'claude', '--as', 'research'], project)).code).toBe(0);
    expect(await readFile(path, 'utf8')).toBe(textAfterFirst);

    // The hook: new tasks since the last look, then silence.
    const sent = await env.mr([
      'send',
      'research',
      'Look at this',
      '--priority',
      'urgent',
      '--as',
      'dispatch',
    ]);
    const first = await runHook(command, project);
    expect(first).toContain(sent.stdout.trim());
    expect(first).toContain('Look at this');
    expect(first).toContain('mailroom next --as research');
    expect(await runHook(command, project)).toBe('');

    const u = await hooks(['uninstall', 'claude', '--as', 'research'], project);
    expect(u.code, u.stderr).toBe(0);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(original);
  });

  it('a settings file that is not JSON is refused and left as it is', async () => {
    const project = join(env.dir, 'broken');
    await mkdir(join(project, '.claude'), { recursive: true });
    const path = join(project, '.claude/settings.json');
    await writeFile(path, '{ "hooks": ');
    const r = await hooks(['install', 'claude', '--as', 'research'], project);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not valid JSON');
    expect(await readFile(path, 'utf8')).toBe('{ "hooks": ');
  });
});

describe('hooks for Codex', () => {
  it('creates .codex/hooks.json when there is none, and uninstall leaves no mailroom entry', async () => {
    const project = join(env.dir, 'codex-project');
    await mkdir(project, { recursive: true });
    expect((await hooks(['install', 'codex', '--as', 'research'], project)).code).toBe(0);
    const path = join(project, '.codex/hooks.json');
    const installed = JSON.parse(await readFile(path, 'utf8'));
    expect(Object.keys(installed.hooks).sort()).toEqual(['SessionStart', 'UserPromptSubmit']);
    expect((await hooks(['uninstall', 'codex'], project)).code).toBe(0);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({});
  });
});
