// Provenance of the tasks a far host sends (docs/spec.md §6: the far host is untrusted). Pure.
//
// A host may only do what its own agents may do. Before a version of a task from a host enters this
// machine (a pull, a merge, a fold), it is judged against what this machine knows of that task:
//
//   | this machine knows the task            | the host's version                   | verdict     |
//   |----------------------------------------|--------------------------------------|-------------|
//   | yes (it sent it, or synced it before)   | same from, to, id, attempt           | accept      |
//   | yes, and it is with one of the host's   | `to` another of the host's agents    | accept (the host hands its own work on) |
//   | agents                                  |                                      |             |
//   | yes                                     | another from, to, id or attempt      | repair: those fields are set back to what this machine holds, the rest of the edit is kept, the refusal is reported |
//   | no (new from the host)                  | from is one of the host's agents     | accept      |
//   | no                                      | from is anyone else                  | quarantine: never pulled, kept on the host byte for byte, reported with the host's name |
//
// "Knows" means: a copy on this machine (in the host's folders or elsewhere), or the base of the last
// sync. So a worker can finish, fail or report progress on what it was given, and send new work in
// its own name, but never speak for the human, redirect a task, or reset its attempts.

export interface Identity {
  id: string;
  from: string;
  to: string;
  attempt: number;
}

export type Verdict =
  | { kind: 'accept' }
  | { kind: 'repair'; set: Partial<Omit<Identity, 'id'>>; reason: string }
  | { kind: 'quarantine'; reason: string };

export interface ProvenanceInput {
  host: string;
  /** The agents configured on that host. */
  hostAgents: readonly string[];
  /** What this machine holds for the task; undefined when the task is new from the host. */
  known: Identity | undefined;
  /** The host's version. */
  incoming: Identity;
}

const GUARDED = ['from', 'to', 'attempt'] as const;

export function judgeProvenance(input: ProvenanceInput): Verdict {
  const { host, known, incoming } = input;
  if (known === undefined) {
    if (input.hostAgents.includes(incoming.from)) return { kind: 'accept' };
    return {
      kind: 'quarantine',
      reason: `new task from ${host} says "from: ${incoming.from}", but ${host} runs only ${input.hostAgents.join(', ') || 'no agents'}: quarantined (kept on ${host}, never routed)`,
    };
  }
  if (known.id !== incoming.id)
    return {
      kind: 'quarantine',
      reason: `${host} changed the id of task ${known.id} to ${incoming.id}: quarantined`,
    };
  const set: Partial<Omit<Identity, 'id'>> = {};
  const changes: string[] = [];
  const own = (agent: string) => input.hostAgents.includes(agent);
  for (const key of GUARDED) {
    if (known[key] === incoming[key]) continue;
    // A task with one of the host's agents may be handed to another of its agents (a far reassign).
    if (key === 'to' && own(known.to) && own(incoming.to)) continue;
    changes.push(`${key} ${JSON.stringify(known[key])} -> ${JSON.stringify(incoming[key])}`);
    Object.assign(set, { [key]: known[key] });
  }
  if (changes.length === 0) return { kind: 'accept' };
  return {
    kind: 'repair',
    set,
    reason: `${host} may not change who sent or gets task ${known.id}, or its attempt: refused ${changes.join(', ')}; the rest of its edit is kept`,
  };
}

/** The guarded fields of a task's frontmatter, or undefined when they are missing or odd. */
export function identityOf(id: string, fields: Record<string, unknown>): Identity | undefined {
  const { from, to } = fields;
  const attempt = fields.attempt ?? 1;
  if (typeof from !== 'string' || typeof to !== 'string' || typeof attempt !== 'number') return undefined;
  return { id: typeof fields.id === 'string' ? fields.id : id, from, to, attempt };
}
