// The refusals both endpoints raise for something that is not what a path should be, worded once
// so that a link or a folder in the wrong place reads the same whether it is here or on a far host.

import { refused } from '../errors.js';
import type { EntryKind } from './endpoint.js';

const what = (kind: EntryKind) => (kind === 'dir' ? 'folder' : kind === 'other' ? 'special file' : kind);

export const isLink = (label: string, rel: string) =>
  refused(
    `${label}: ${rel} is a symbolic link; mailroom never follows links`,
    `replace ${rel} with a regular file or folder`,
  );

export const notAFile = (label: string, rel: string, kind: EntryKind) =>
  kind === 'symlink' ? isLink(label, rel) : refused(`${label}: ${rel} is a ${what(kind)}, not a file`);

export const notADir = (label: string, rel: string, kind: EntryKind) =>
  kind === 'symlink' ? isLink(label, rel) : refused(`${label}: ${rel} is a ${what(kind)}, not a folder`);

export const notEmpty = (label: string, rel: string) =>
  refused(`${label}: cannot remove ${rel}: the folder is not empty`);
