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

/** The longest file name (in bytes) Linux and macOS file systems take (NAME_MAX). */
export const NAME_MAX = 255;

/**
 * `.<name><suffix>` cut to fit NAME_MAX bytes: a temp name beside a long file name (a far host may
 * hold names up to 255 bytes) must still be creatable. The cut never splits a UTF-8 character.
 */
export function hiddenNameFitting(name: string, suffix: string): string {
  const room = NAME_MAX - 1 - Buffer.byteLength(suffix);
  let kept = name;
  while (Buffer.byteLength(kept) > room) kept = kept.slice(0, -1);
  // A cut between the halves of a surrogate pair leaves a lone high surrogate: drop it too.
  if (/[\uD800-\uDBFF]$/.test(kept)) kept = kept.slice(0, -1);
  return `.${kept}${suffix}`;
}
