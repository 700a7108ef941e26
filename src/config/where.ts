// Where an agent lives (docs/spec.md §6, sending across machines): on this machine, on a host the
// hub syncs (`host:`), or, seen from a far machine, elsewhere (`elsewhere: true`).

import type { Config } from './schema.js';

/** A configured agent whose folders are worked on this machine. */
export function livesHere(config: Config, name: string): boolean {
  if (!Object.hasOwn(config.agents, name)) return false;
  const a = config.agents[name];
  return !a?.host && a?.elsewhere !== true;
}

/** A configured agent marked as living on another machine (a far mailroom's view of the hub). */
export function livesElsewhere(config: Config, name: string): boolean {
  return Object.hasOwn(config.agents, name) && config.agents[name]?.elsewhere === true;
}
