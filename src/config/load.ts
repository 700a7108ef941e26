// Loads mailroom.yaml for a command (parse.ts validates it). Every command starts here, so a valid
// file's result is kept in <root>/.mailroom/config-cache.json with the file's text and this build of
// mailroom: a command whose configuration has not changed since the last one neither parses the YAML
// nor builds the schemas (a fifth of a short command's time on a small machine). The text itself is
// the key, compared whole: a hash of it would load node:crypto, 6 ms of every command.

import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errnoCode, usageError } from '../errors.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { Config } from './schema.js';

export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT')
      throw usageError(`no configuration at ${path}`, 'create a mailroom with: mailroom init');
    throw err;
  }
  const cachePath = join(dirname(path), '.mailroom', 'config-cache.json');
  const build = buildStamp();
  const hit = readCache(cachePath, build, text);
  if (hit) return hit;
  const { parseConfig } = await import('./parse.js');
  const config = parseConfig(text, path);
  // Best effort: a mailroom without its state folder yet, or a read-only one, only parses again.
  if (build) await writeFileAtomic(cachePath, JSON.stringify({ build, text, config })).catch(() => {});
  return config;
}

/** This build of mailroom (the file this code runs from), so an upgrade never reads an older result. */
let build: string | undefined;
function buildStamp(): string | undefined {
  try {
    if (build === undefined) {
      const st = statSync(fileURLToPath(import.meta.url));
      build = `${st.size}-${Math.trunc(st.mtimeMs)}`;
    }
  } catch {
    return undefined;
  }
  return build;
}

function readCache(path: string, build: string | undefined, text: string): Config | undefined {
  if (!build) return undefined;
  try {
    const data = JSON.parse(readFileSync(path, 'utf8')) as {
      build?: unknown;
      text?: unknown;
      config?: unknown;
    };
    // Written only by loadConfig from a validated file: the same text under the same build is that
    // file's result.
    if (data.build === build && data.text === text && data.config && typeof data.config === 'object')
      return data.config as Config;
  } catch {
    // missing, half-written by a crash before its rename (never), or not ours: parse the file
  }
  return undefined;
}
