// Loads and validates mailroom.yaml. A bad configuration stops every command with the key and fix.

import { readFile } from 'node:fs/promises';
import { errnoCode, usageError } from '../errors.js';
import { parseYaml } from '../yaml/document.js';
import { type Config, ConfigSchema } from './schema.js';

export function parseConfig(text: string, path: string): Config {
  const parsed = parseYaml(text);
  if (!parsed.ok) {
    throw usageError(
      `${path}:${parsed.problem.line ?? 1}: invalid YAML: ${parsed.problem.message}`,
      'fix the file and run again',
    );
  }
  const result = ConfigSchema.safeParse(parsed.value ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const keyPath = issue.path.map(String);
    const line = parsed.lineOf(keyPath);
    const where = keyPath.length > 0 ? `${keyPath.join('.')}: ` : '';
    const message = issue.message.startsWith(keyPath[keyPath.length - 1] ?? '\0')
      ? issue.message
      : `${where}${issue.message}`;
    throw usageError(
      `${path}${line ? `:${line}` : ''}: ${message}`,
      'fix mailroom.yaml (see README, "Configuration")',
    );
  }
  const config = result.data;
  for (const [name, agent] of Object.entries(config.agents)) {
    if (agent?.host && !(agent.host in config.hosts)) {
      throw usageError(
        `${path}: agents.${name}.host: no host named "${agent.host}"`,
        `add it with: mailroom host add ${agent.host} USER@HOST --root PATH`,
      );
    }
  }
  if (!(config.escalate_to in config.agents)) {
    throw usageError(
      `${path}: escalate_to: no agent named "${config.escalate_to}"`,
      `add it with: mailroom agent add ${config.escalate_to}`,
    );
  }
  return config;
}

export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT')
      throw usageError(`no configuration at ${path}`, 'create a mailroom with: mailroom init');
    throw err;
  }
  return parseConfig(text, path);
}
