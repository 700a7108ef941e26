// One open mailroom: its layout, validated configuration, lock strategy, clock and event log. The
// CLI and the daemon build one of these and hand it to the operations in src/ops/.

import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { notFound } from './errors.js';
import { appendEvent, type MailroomEvent } from './events/log.js';
import { checkAgentName } from './names.js';
import { Layout } from './store/layout.js';
import { fileLocker, type Locker } from './store/lock.js';
import { closest } from './suggest.js';
import { isoSeconds } from './task/id.js';

export interface Mailroom {
  layout: Layout;
  config: Config;
  locker: Locker;
  now: () => Date;
  log: (event: Omit<MailroomEvent, 'at'> & { type: string }) => Promise<void>;
}

export async function openMailroom(
  root: string,
  opts: { locker?: Locker; now?: () => Date } = {},
): Promise<Mailroom> {
  const layout = new Layout(root);
  const config = await loadConfig(layout.configPath);
  const now = opts.now ?? (() => new Date());
  return {
    layout,
    config,
    locker: opts.locker ?? fileLocker(),
    now,
    log: (event) => appendEvent(layout.eventsPath, { at: isoSeconds(now()), ...event }),
  };
}

/** An agent that must exist in the configuration (exit 2 with the fix if not). */
export function requireAgent(mr: Mailroom, name: string): string {
  if (Object.hasOwn(mr.config.agents, name)) return name;
  checkAgentName(name); // a name that could never be an agent: say so, and suggest nothing
  const near = closest(name, Object.keys(mr.config.agents));
  throw notFound(
    `no agent named "${name}" in ${mr.layout.rel(mr.layout.configPath)}${near ? ` (did you mean "${near}"?)` : ''}`,
    `${near ? `use ${near}, or add` : 'add'} it with: mailroom agent add ${name}`,
  );
}
