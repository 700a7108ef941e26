// The text of a task file as an agent's `send` would have written it: queued, from dispatch to
// research, one history line (docs/spec.md §2). For tests that put a task into an inbox by hand.
// Also: such a file as a script writes it, with times of its own; and a task put into an inbox by
// the store itself, under a chosen id.

import type { Mailroom } from '../../src/mailroom.js';
import { createTaskFile } from '../../src/store/tasks.js';
import { taskText } from '../../torture/support.js';

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

/**
 * A queued task file from dispatch to research as a script writes it: no priority, and every time
 * (`created`, the history line) is `at`, exactly as given (any RFC 3339 offset, or none).
 */
export function scriptedTaskFile(id: string, at: string): string {
  return [
    '---',
    `id: ${id}`,
    'title: Written by a script',
    'from: dispatch',
    'to: research',
    'state: queued',
    `created: ${at}`,
    'history:',
    `  - { state: queued, at: ${at}, by: dispatch }`,
    '---',
    'Body.',
    '',
  ].join('\n');
}

/** A queued task `id` from dispatch, written by the store into `to`'s inbox on `mr` (body `Do ID.`). */
export async function queueTask(mr: Mailroom, to: string, id: string): Promise<void> {
  await createTaskFile(mr, to, 'inbox', id, taskText({ id, from: 'dispatch', to }, `Do ${id}.\n`));
}

/** The frontmatter (between the fences) of a task as mailroom writes it, with two history entries. */
export const FRONTMATTER = `id: 20260101-000000-0005
title: Summarise source batch 5
from: dispatch
to: a01
state: queued
priority: high
created: 2026-01-01T00:00:00Z
attempt: 1
max_attempts: 3
ack_timeout: 30d
run_timeout: 30m
history:
  - { state: queued, at: 2026-01-01T00:00:00Z, by: dispatch }
  - { state: acked, at: 2026-01-01T00:01:00Z, by: a01, note: took it }
`;
