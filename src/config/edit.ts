// Changes to mailroom.yaml made by commands (`agent add|rm`, `host add|rm`), under the config file's lock
// and written atomically; comments and the rest of the file stay.

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../store/atomic.js';
import type { Locker } from '../store/lock.js';
import { deleteYamlIn, setYamlIn } from '../yaml/document.js';
import { parseConfig } from './parse.js';
import type { Config } from './schema.js';

/** Locked read-modify-write of the configuration; the result is validated before it is written. */
export async function editConfig(
  path: string,
  locker: Locker,
  change: (
    config: Config,
  ) => { keyPath: string[]; value?: unknown; remove?: boolean; flowLeaf?: boolean } | undefined,
): Promise<Config> {
  return locker(path, async (guard) => {
    const text = await readFile(path, 'utf8');
    const config = parseConfig(text, path);
    const edit = change(config);
    if (!edit) return config;
    const next = edit.remove
      ? deleteYamlIn(text, edit.keyPath)
      : setYamlIn(text, edit.keyPath, edit.value, { flowLeaf: edit.flowLeaf ?? false });
    const validated = parseConfig(next, path);
    guard.assertHeld();
    await writeFileAtomic(path, next);
    return validated;
  });
}
