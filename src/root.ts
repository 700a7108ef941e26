// Finds the mailroom root: --root, else $MAILROOM_ROOT, else the nearest folder upwards holding
// mailroom.yaml (docs/spec.md §1).

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { notFound } from './errors.js';
import { CONFIG_FILE } from './store/layout.js';

export function findRoot(explicit: string | undefined, env = process.env, cwd = process.cwd()): string {
  const given = explicit ?? env.MAILROOM_ROOT;
  if (given) {
    const root = resolve(cwd, given);
    if (!existsSync(join(root, CONFIG_FILE))) {
      throw notFound(`no mailroom at ${root} (no ${CONFIG_FILE})`, `create one with: mailroom init ${given}`);
    }
    return root;
  }
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, CONFIG_FILE))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw notFound(
    `no mailroom found in ${cwd} or any folder above it`,
    'create one with `mailroom init [DIR]`, or point to one with --root DIR or MAILROOM_ROOT',
  );
}
