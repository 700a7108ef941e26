// Where the installed package lives (for inbox-template/), whether running from dist/ or from source.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'inbox-template'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the mailroom package folder (inbox-template/ missing)');
    dir = parent;
  }
  cached = dir;
  return dir;
}

export const inboxTemplateDir = (): string => join(packageRoot(), 'inbox-template');
