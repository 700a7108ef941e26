// `mailroom hooks install|uninstall claude|codex` and the hook command itself, `hooks check`.
// The settings file is the user's: it is merged, never overwritten (agent/hooks-config.ts), written
// atomically under its lock, and a file that is not JSON is refused and left as it is.

import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { addHooks, MARKER, removeHooks, SettingsShapeError } from '../../agent/hooks-config.js';
import { errnoCode, usageError } from '../../src/errors.js';
import { lookAtInbox } from '../../src/ops/cursor.js';
import { findRoot } from '../../src/root.js';
import { writeFileAtomic } from '../../src/store/atomic.js';
import { fileLocker } from '../../src/store/lock.js';
import { actingAs, type CommonOptions, open } from '../context.js';
import { printJson, println, warn } from '../output.js';

interface HookOptions extends CommonOptions {
  file?: string;
}

function settingsPath(cli: string, opts: HookOptions): string {
  if (opts.file !== undefined) return resolve(opts.file);
  if (cli === 'claude') return resolve('.claude', 'settings.json');
  if (cli === 'codex') return resolve('.codex', 'hooks.json');
  throw usageError(`unknown agent CLI ${JSON.stringify(cli)}`, 'use claude or codex');
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** The command the hook runs: this very mailroom (node + script), this root, this agent. */
function hookCommand(root: string, agent: string): string {
  const script = process.argv[1] ?? 'mailroom';
  return `${shellQuote(process.execPath)} ${shellQuote(resolve(script))} --root ${shellQuote(root)} hooks check --as ${agent} ${MARKER}`;
}

async function editSettings(path: string, change: (s: Record<string, unknown>) => Record<string, unknown>) {
  await mkdir(dirname(path), { recursive: true }); // .claude/ or .codex/ of a project that has none yet
  await fileLocker()(path, async (guard) => {
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    let settings: unknown = {};
    if (text !== undefined && text.trim() !== '') {
      try {
        settings = JSON.parse(text);
      } catch (err) {
        throw usageError(
          `${path}: not valid JSON (${(err as Error).message}); nothing changed`,
          'fix the file, then run this again',
        );
      }
    }
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings))
      throw usageError(
        `${path}: expected a JSON object; nothing changed`,
        'fix the file, then run this again',
      );
    let next: Record<string, unknown>;
    try {
      next = change(settings as Record<string, unknown>);
    } catch (err) {
      if (err instanceof SettingsShapeError)
        throw usageError(`${path}: ${err.message}; nothing changed`, 'fix the file, then run this again');
      throw err;
    }
    if (next === settings) return;
    guard.assertHeld();
    await writeFileAtomic(path, `${JSON.stringify(next, null, 2)}\n`);
  });
}

export async function install(cli: string, opts: HookOptions): Promise<void> {
  const mr = await open(opts);
  const agent = actingAs(opts);
  if (agent === undefined)
    throw usageError('hooks install needs the agent the session works as', 'add --as AGENT');
  const path = settingsPath(cli, opts);
  const command = hookCommand(mr.layout.root, agent);
  let added = 0;
  await editSettings(path, (s) => {
    const r = addHooks(s, command);
    added = r.added;
    return r.added === 0 ? s : r.settings;
  });
  if (opts.json) printJson({ path, added, command });
  else println(added === 0 ? `already installed in ${path}` : `installed ${added} hook(s) in ${path}`);
}

export async function uninstall(cli: string, opts: HookOptions): Promise<void> {
  const path = settingsPath(cli, opts);
  const agent = actingAs(opts);
  let removed = 0;
  await editSettings(path, (s) => {
    const r = removeHooks(s, agent === undefined ? undefined : (c) => c.includes(` --as ${agent} `));
    removed = r.removed;
    return r.removed === 0 ? s : r.settings;
  });
  if (opts.json) printJson({ path, removed });
  else println(removed === 0 ? `no mailroom hooks in ${path}` : `removed ${removed} hook(s) from ${path}`);
}

/**
 * The hook command: what is new in the inbox since the last look, for the session's context; nothing
 * at all when nothing is new. Never fails the session's turn: a problem is one line on stderr, exit 0.
 */
export async function check(opts: CommonOptions): Promise<void> {
  try {
    const agent = actingAs(opts);
    if (agent === undefined) throw usageError('hooks check needs --as AGENT');
    findRoot(opts.root);
    const mr = await open(opts);
    const changes = await lookAtInbox(mr, agent);
    if (changes.length === 0) return;
    const lines = [`mailroom: ${changes.length} new for ${agent} since your last look:`];
    for (const c of changes) {
      const what = c.change === 'new' ? `new task [${c.priority}]` : c.change;
      lines.push(
        `- ${what} ${c.id} from ${c.from}: ${c.title}${c.answer === undefined ? '' : ` -> ${c.answer}`}`,
      );
    }
    lines.push(
      `Claim the next task with \`mailroom next --as ${agent}\`; read one with \`mailroom show ID\`.`,
    );
    println(lines.join('\n'));
  } catch (err) {
    warn(`mailroom hooks check: ${err instanceof Error ? err.message : String(err)}`);
  }
}
