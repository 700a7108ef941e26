// Relative paths inside an endpoint root, and the checks that keep every operation inside it.
// Invariant: a path reaches IO only as validated segments (no absolute path, no empty, `.` or `..`
// segment, no NUL), and an operation refuses to pass through a parent folder that is a symbolic link,
// so neither a crafted name nor a link planted on either machine can lead outside the root.

import { usageError } from '../errors.js';
import { hiddenNameFitting } from '../names.js';
import { randomHex } from '../random-hex.js';

/** The segments of `rel`; `''` is the root itself (empty array) when `allowRoot`. */
export function parseRelPath(rel: string, label: string, opts: { allowRoot?: boolean } = {}): string[] {
  const bad = (why: string) =>
    usageError(
      `${label}: refusing path ${JSON.stringify(rel)}: ${why}`,
      'paths are relative to the mailroom root, like agents/research/inbox/ID.md',
    );
  if (rel === '') {
    if (opts.allowRoot) return [];
    throw bad('it is empty');
  }
  if (rel.startsWith('/')) throw bad('it is absolute');
  if (rel.includes('\0')) throw bad('it holds a NUL byte');
  const segments = rel.split('/');
  for (const s of segments) {
    if (s === '') throw bad('it has an empty segment ("//" or a trailing "/")');
    if (s === '.' || s === '..') throw bad(`it has a "${s}" segment`);
  }
  return segments;
}

export const joinRel = (segments: readonly string[]): string => segments.join('/');

/** `.<name>.tmp-<random>`: starts with `.` and holds `.tmp`, so no scan takes it for a task (docs/spec.md §1). */
export const tempNameFor = (name: string): string => hiddenNameFitting(name, `.tmp-${randomHex(6)}`);

/** True for names writeFileAtomic leaves behind only if it was cut off (for doctor and tests). */
export const isTempName = (name: string): boolean => /^\..+\.tmp-[0-9a-f]{12}$/.test(name);
