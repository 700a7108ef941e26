// Parses and validates the text of mailroom.yaml. A bad configuration stops every command with a
// message in mailroom's words: the file and line, the key, and a fix that works. A fix is always an
// edit of the file: a command that would change the configuration (`agent add`) cannot run while it
// is invalid.

import type { z } from 'zod';
import { usageError } from '../errors.js';
import { closest } from '../suggest.js';
import { parseYaml } from '../yaml/document.js';
import {
  AgentConfigSchema,
  type Config,
  ConfigSchema,
  HostConfigSchema,
  SyncConfigSchema,
} from './schema.js';

const NAME_RULE = '1-63 characters: a lowercase letter, then lowercase letters, digits, - or _';

/** The keys allowed in the mapping at `path`, and how to name that mapping in a message. */
function keysAt(path: string[]): { keys: string[]; where: string } {
  const [first, name] = path;
  if (path.length === 0) return { keys: Object.keys(ConfigSchema.shape), where: 'at the top level' };
  if (first === 'sync') return { keys: Object.keys(SyncConfigSchema.shape), where: 'in sync:' };
  if (first === 'agents') return { keys: Object.keys(AgentConfigSchema.shape), where: `in agent ${name}` };
  return { keys: Object.keys(HostConfigSchema.shape), where: `in host ${name}` };
}

/** One validation issue as [message, hint], in mailroom's words. */
function explain(issue: z.core.$ZodIssue, keyPath: string[]): [string, string] {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const { keys, where } = keysAt(keyPath.slice(0, -1));
    const near = closest(key, keys);
    const password =
      keyPath[0] === 'hosts' ? ' (passwords are never stored: use ssh-agent or a key file)' : '';
    return [
      `unknown key "${key}" ${where}${near ? ` (did you mean "${near}"?)` : ''}`,
      near ? `rename it to ${near}` : `remove it (the keys ${where}: ${keys.join(', ')})${password}`,
    ];
  }
  if (issue.code === 'invalid_key') {
    const what = keyPath[0] === 'hosts' ? 'host' : 'agent';
    return [`"${keyPath.at(-1)}" is not a valid ${what} name`, `rename it: ${what} names are ${NAME_RULE}`];
  }
  if (keyPath.length === 0)
    return [
      'expected settings (agents:, hosts:, escalate_to: ...) at the top level',
      'see README, "Configuration"',
    ];
  const last = keyPath.at(-1) ?? '';
  const message = issue.message.startsWith(last) ? issue.message : `${keyPath.join('.')}: ${issue.message}`;
  return [message, 'fix mailroom.yaml (see README, "Configuration")'];
}

export function parseConfig(text: string, path: string): Config {
  const parsed = parseYaml(text);
  if (!parsed.ok) {
    throw usageError(
      `${path}:${parsed.problem.line ?? 1}: invalid YAML: ${parsed.problem.message}`,
      'fix the file and run again',
    );
  }
  if (parsed.value === null || parsed.value === undefined)
    throw usageError(
      `${path}: the file has no settings; a mailroom needs at least its agents`,
      'write into it what `mailroom init` writes: agents: { dispatch: {}, human: {} }',
    );
  const result = ConfigSchema.safeParse(parsed.value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const keyPath = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') keyPath.push(issue.keys[0] ?? '');
    const line = parsed.lineOf(keyPath);
    const [message, hint] = explain(issue, keyPath);
    throw usageError(`${path}${line ? `:${line}` : ''}: ${message}`, hint);
  }
  checkReferences(result.data, path, parsed.lineOf);
  return result.data;
}

/** Names that must point at something else in the file: an agent's host, and escalate_to. */
function checkReferences(config: Config, path: string, lineOf: (p: string[]) => number | undefined): void {
  const at = (keyPath: string[]) => `${path}${lineOf(keyPath) ? `:${lineOf(keyPath)}` : ''}`;
  for (const [name, agent] of Object.entries(config.agents)) {
    if (agent?.host && agent.elsewhere)
      throw usageError(
        `${at(['agents', name, 'elsewhere'])}: agents.${name}: host: and elsewhere: together`,
        'on the hub use host: (its folders are synced); on a far machine use elsewhere: true (docs/spec.md §6)',
      );
    if (agent?.host && !Object.hasOwn(config.hosts, agent.host)) {
      const near = closest(agent.host, Object.keys(config.hosts));
      throw usageError(
        `${at(['agents', name, 'host'])}: agents.${name}.host: no host named "${agent.host}"${near ? ` (did you mean "${near}"?)` : ''}`,
        near
          ? `change it to ${near}`
          : `add ${agent.host} under hosts: (with ssh: and root:), or remove host: to keep ${name} on this machine`,
      );
    }
  }
  const target = config.escalate_to;
  if (!Object.hasOwn(config.agents, target)) {
    const agents = Object.keys(config.agents);
    const near = closest(target, agents);
    const given = lineOf(['escalate_to']) !== undefined;
    throw usageError(
      `${at(['escalate_to'])}: escalate_to: no agent named "${target}"${given ? '' : ' (the default)'}${near ? ` (did you mean "${near}"?)` : ''}`,
      near
        ? `change it to ${near}`
        : `add "${target}: {}" under agents:${agents.length > 0 ? `, or set escalate_to: to one of ${agents.join(', ')}` : ''}`,
    );
  }
}
