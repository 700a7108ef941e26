// The only gate between a name someone typed (or a file name found on disk or on a far host) and a
// path. Nothing in mailroom joins a name into a path before it passed one of these checks, so `..`,
// `/`, absolute paths and odd bytes can never escape the mailroom root.

import { usageError } from './errors.js';

export const AGENT_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
export const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const HOST_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

export const isAgentName = (s: string): boolean => AGENT_NAME.test(s);
// `..` cannot match TASK_ID (it must start with a letter or digit), and `.` or `/` alone neither.
export const isTaskId = (s: string): boolean => TASK_ID.test(s) && !s.endsWith('.md') && !s.includes('..');

export function checkAgentName(name: string, what = 'agent name'): string {
  if (!isAgentName(name)) {
    throw usageError(
      `invalid ${what} ${JSON.stringify(name)}`,
      'agent names are 1-63 characters: a lowercase letter, then lowercase letters, digits, - or _',
    );
  }
  return name;
}

export function checkHostName(name: string): string {
  if (!HOST_NAME.test(name)) {
    throw usageError(
      `invalid host name ${JSON.stringify(name)}`,
      'host names are 1-63 characters: a lowercase letter, then lowercase letters, digits, - or _',
    );
  }
  return name;
}

export function checkTaskId(id: string): string {
  if (!isTaskId(id)) {
    throw usageError(
      `invalid task id ${JSON.stringify(id)}`,
      'task ids are letters, digits, . _ - (no "/" or ".."), starting with a letter or digit, at most 128 characters',
    );
  }
  return id;
}
