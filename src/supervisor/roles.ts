// Who can stand in for a worker: the configured agents that share its `role` (docs/spec.md §3).
// Invariant: the order is a pure function of the configuration — agents of the role sorted by name,
// starting just after the current worker and wrapping round — so every pass, on every machine, picks
// the same next agent, and repeated moves walk the whole role before coming back.

/** Configured agents by name; `null` is what `agents: { human: ~ }` loads as. */
export type AgentRoles = Record<string, { role?: string | undefined } | null | undefined>;

/** The other agents of the worker's role, in rotation order (the first is the next one to try). */
export function roleMates(agents: AgentRoles, worker: string): string[] {
  const role = agents[worker]?.role;
  if (role === undefined) return [];
  // Code-unit order, not localeCompare: the rotation must not depend on the machine's locale.
  const names = Object.keys(agents)
    .filter((name) => agents[name]?.role === role)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const after = names.filter((name) => name > worker);
  const before = names.filter((name) => name < worker);
  return [...after, ...before];
}

/** The next agent of the worker's role, or undefined when it has no role mate. */
export function nextInRole(agents: AgentRoles, worker: string): string | undefined {
  return roleMates(agents, worker)[0];
}
