// The hook configuration mailroom merges into an agent CLI's settings (Claude Code's
// `.claude/settings.json`, Codex's `.codex/hooks.json`: both `{hooks: {Event: [{matcher?, hooks:
// [{type: "command", command, timeout}]}]}}`). Pure: settings in, settings out. Invariants: install
// only adds (everything else in the file stays as it was, and installing twice adds nothing more);
// uninstall removes exactly the entries carrying MARKER, and a group or event only if that left it empty.

/** Ends every command mailroom installs: how uninstall knows its own entries. */
export const MARKER = '# added by mailroom hooks install';

/** SessionStart: told at the start; UserPromptSubmit: told at every turn. Both add stdout to the context. */
export const EVENTS = ['SessionStart', 'UserPromptSubmit'] as const;

type Json = Record<string, unknown>;
interface HookGroup extends Json {
  hooks?: unknown[];
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isOurs = (h: unknown): boolean =>
  isObject(h) && typeof h.command === 'string' && h.command.endsWith(MARKER);

export class SettingsShapeError extends Error {}

function hooksOf(settings: Json): Json {
  if (settings.hooks === undefined) return {};
  if (!isObject(settings.hooks)) throw new SettingsShapeError('"hooks" is not an object');
  return settings.hooks;
}

/** Add one hook group per event running `command` (which must end with MARKER), unless it is there. */
export function addHooks(settings: Json, command: string): { settings: Json; added: number } {
  const hooks = { ...hooksOf(settings) };
  let added = 0;
  for (const event of EVENTS) {
    const groups = hooks[event] ?? [];
    if (!Array.isArray(groups)) throw new SettingsShapeError(`"hooks.${event}" is not a list`);
    const present = groups.some(
      (g) =>
        isObject(g) && Array.isArray(g.hooks) && g.hooks.some((h) => isObject(h) && h.command === command),
    );
    if (present) continue;
    hooks[event] = [...groups, { hooks: [{ type: 'command', command, timeout: 10 }] }];
    added++;
  }
  return { settings: { ...settings, hooks }, added };
}

/** Remove every hook mailroom added (for one agent when `only` is given), and what that left empty. */
export function removeHooks(
  settings: Json,
  only?: (command: string) => boolean,
): { settings: Json; removed: number } {
  if (settings.hooks === undefined) return { settings, removed: 0 };
  const hooks = { ...hooksOf(settings) };
  let removed = 0;
  const mine = (h: unknown) => isOurs(h) && (only === undefined || only((h as { command: string }).command));
  for (const [event, groups] of Object.entries(hooks)) {
    if (!Array.isArray(groups)) continue;
    const kept: unknown[] = [];
    for (const g of groups as HookGroup[]) {
      if (!isObject(g) || !Array.isArray(g.hooks) || !g.hooks.some(mine)) {
        kept.push(g);
        continue;
      }
      const rest = g.hooks.filter((h) => !mine(h));
      removed += g.hooks.length - rest.length;
      if (rest.length > 0) kept.push({ ...g, hooks: rest });
    }
    if (kept.length > 0) hooks[event] = kept;
    else if (groups.length > 0) delete hooks[event];
  }
  if (Object.keys(hooks).length === 0 && removed > 0) {
    const { hooks: _gone, ...rest } = settings;
    return { settings: rest, removed };
  }
  return { settings: { ...settings, hooks }, removed };
}
