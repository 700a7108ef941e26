// The far tasks a host was not allowed to send (provenance.ts), remembered per host in
// .mailroom/sync/<host>.quarantine.json for `status` and `doctor`. The tasks themselves stay on the
// host, byte for byte; this machine never pulls, routes, retries or notifies them. A full pass
// replaces the list (what is still there is quarantined again); the fast path only adds to it. Each
// new quarantine (a path with new content) is logged once as `sync.quarantined`, with the host's name.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mailroom } from '../mailroom.js';
import { checkHostName } from '../names.js';
import { writeFileAtomic } from '../store/atomic.js';
import type { Layout } from '../store/layout.js';
import type { Quarantined } from './apply.js';

export interface QuarantineEntry extends Quarantined {
  /** When it was first quarantined with this content. */
  at: string;
}

const pathOf = (layout: Layout, host: string) =>
  join(layout.stateDir, 'sync', `${checkHostName(host)}.quarantine.json`);

export async function loadQuarantine(layout: Layout, host: string): Promise<QuarantineEntry[]> {
  try {
    const data = JSON.parse(await readFile(pathOf(layout, host), 'utf8')) as { entries?: QuarantineEntry[] };
    return Array.isArray(data.entries) ? data.entries : [];
  } catch {
    return [];
  }
}

/** Records what a pass quarantined (replacing the list after a full pass) and logs the new ones. */
export async function recordQuarantine(
  mr: Mailroom,
  host: string,
  found: readonly Quarantined[],
  opts: { replace: boolean },
): Promise<void> {
  const before = await loadQuarantine(mr.layout, host);
  const key = (q: Quarantined) => `${q.path}\0${q.hash}`;
  const known = new Map(before.map((q) => [key(q), q]));
  const now = mr.now().toISOString();
  const fresh = found.filter((q) => !known.has(key(q)));
  const kept = opts.replace
    ? found.map((q) => known.get(key(q)) ?? { ...q, at: now })
    : [...before, ...fresh.map((q) => ({ ...q, at: now }))];
  if (fresh.length === 0 && kept.length === before.length) return;
  await writeFileAtomic(pathOf(mr.layout, host), `${JSON.stringify({ host, entries: kept }, null, 2)}\n`, {
    mkdir: true,
  });
  // Paths carry the host (`vps:agents/…`): the far file is not a file of this machine. status folds
  // these events (src/ops/reported.ts): `*.quarantined` opens an item, `*.released` closes it.
  for (const q of fresh)
    await mr.log({ type: 'sync.quarantined', host, id: q.id, path: `${host}:${q.path}`, reason: q.reason });
  if (opts.replace) {
    const still = new Set(found.map((q) => q.path));
    for (const q of before)
      if (!still.has(q.path))
        await mr.log({ type: 'sync.released', host, id: q.id, path: `${host}:${q.path}` });
  }
}
