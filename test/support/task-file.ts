// The text of a task file as an agent's `send` would have written it: queued, from dispatch to
// research, one history line (docs/spec.md §2). For tests that put a task into an inbox by hand.

export function queuedTaskFile(id: string, title: string, body = ''): string {
  const head = [
    '---',
    `id: ${id}`,
    `title: ${title}`,
    'from: dispatch',
    'to: research',
    'state: queued',
    'priority: normal',
    'created: 2026-11-22T10:15:00Z',
    'history:',
    '  - { state: queued, at: 2026-11-22T10:15:00Z, by: dispatch }',
    '---',
  ];
  return `${head.join('\n')}\n${body}`;
}
