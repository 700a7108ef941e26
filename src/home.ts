// `~` and `~/...` in configured paths (hosts.<h>.root, identity, known_hosts) mean the user's home.

import { homedir } from 'node:os';

export const expandHome = (p: string): string =>
  p === '~' ? homedir() : p.startsWith('~/') ? `${homedir()}${p.slice(1)}` : p;
