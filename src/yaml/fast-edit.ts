// A fast editor for the frontmatter mailroom itself writes, for the two edits every status change
// makes: set a top-level scalar (`state: acked`) and append a flow-map entry to a list (`history:`).
// It answers only for text the fast reader (fast.ts) accepts and for values it renders exactly as
// the library's editor (document.ts, YamlEditor) would; for anything else it answers undefined and
// the caller edits with the library. The library's editor parses the whole document once per edit
// (about 0.8 ms each); `next`, `ack`, `start` and `done` make two.
//
// Invariant (test/yaml/fast-edit.test.ts): for any text and edit, fastEdit gives undefined or
// exactly the text YamlEditor gives.

import { fastYaml, KEY, SMALL_INT } from './fast.js';

export type FastScalar = string | number | boolean;

export interface FastEditOps {
  /** Top-level keys that already hold a plain scalar, and their new values. */
  set?: Record<string, FastScalar>;
  /** Entries appended to a top-level list whose items are all one-line flow maps. */
  append?: { key: string; entries: ReadonlyArray<Record<string, FastScalar>> };
}

// A string the library writes as itself (plain) in block and flow context, and reads back as that
// string: letters, digits and a few punctuation marks that start no YAML syntax, single spaces
// between words, nothing that reads as a number, boolean or null (checked below).
const SAFE = /^[A-Za-z0-9_][A-Za-z0-9_.@+\-:/]*(?: [A-Za-z0-9_.@+\-/][A-Za-z0-9_.@+\-:/]*)*$/;
const LOOKS_TYPED =
  /^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|[Tt]rue|TRUE|[Ff]alse|FALSE|[Nn]ull|NULL|[Yy]es|YES|[Nn]o|NO|[Oo]n|ON|[Oo]ff|OFF|[Yy]|[Nn])$/;

/** The value as the library renders it plain, or undefined when unsure. */
function plain(value: FastScalar): string | undefined {
  if (typeof value === 'boolean') return undefined; // rare in an edit: the library's job
  if (typeof value === 'number') {
    const s = String(value);
    return Number.isSafeInteger(value) && value >= 0 && SMALL_INT.test(s) ? s : undefined;
  }
  if (!SAFE.test(value) || LOOKS_TYPED.test(value) || /^[0-9][0-9:._-]*$/.test(value)) return undefined;
  // `a: b` reads as a map and `a:` ends a key; a `:` inside a word (times, URLs) is plain.
  if (value.includes(': ') || value.endsWith(':') || /(?:^|\s)-(?:\s|$)/.test(value)) return undefined;
  return value;
}

function flowMap(entry: Record<string, FastScalar>): string | undefined {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(entry)) {
    const rendered = plain(v);
    if (!KEY.test(k) || plain(k) === undefined || rendered === undefined) return undefined;
    parts.push(`${k}: ${rendered}`);
  }
  return parts.length === 0 ? undefined : `{ ${parts.join(', ')} }`;
}

/** The index of the top-level line `key:...`, or -1. */
function lineOf(lines: readonly string[], key: string): number {
  const head = `${key}:`;
  for (let i = 0; i < lines.length; i++) if (lines[i]!.startsWith(head)) return i;
  return -1;
}

/** The edited text, or undefined: edit with the library. */
export function fastEdit(text: string, ops: FastEditOps): string | undefined {
  if (text.length === 0 || !text.endsWith('\n') || fastYaml(text) === undefined) return undefined;
  const lines = text.slice(0, -1).split('\n');
  for (const [key, value] of Object.entries(ops.set ?? {})) {
    const i = lineOf(lines, key);
    const rendered = plain(value);
    if (i < 0 || rendered === undefined) return undefined;
    const raw = lines[i]!.slice(key.length + 1).trimStart();
    // A list or a flow map under the key, or no value: not a scalar to replace in place.
    if (raw === '' || raw.startsWith('{')) return undefined;
    lines[i] = lines[i]!.slice(0, lines[i]!.length - raw.length) + rendered;
  }
  if (ops.append && ops.append.entries.length > 0) {
    const i = lineOf(lines, ops.append.key);
    if (i < 0 || lines[i] !== `${ops.append.key}:`) return undefined;
    // The list's items: the lines after the key up to the next top-level key (the fast reader has
    // checked their shape); each must be one `- { ... }` line at the same indent.
    let end = i + 1;
    while (end < lines.length && !/^[A-Za-z_]/.test(lines[end]!)) end++;
    if (end === i + 1) return undefined;
    const first = lines[i + 1]!;
    const indent = first.slice(0, first.indexOf('-'));
    for (let k = i + 1; k < end; k++) if (!lines[k]!.startsWith(`${indent}- {`)) return undefined;
    const added: string[] = [];
    for (const entry of ops.append.entries) {
      const rendered = flowMap(entry);
      if (rendered === undefined) return undefined;
      added.push(`${indent}- ${rendered}`);
    }
    lines.splice(end, 0, ...added);
  }
  return `${lines.join('\n')}\n`;
}
