// The only module that talks to the `yaml` library. Reading is plain parse-to-data; writing is a
// surgical text edit at the source ranges yaml reports, so that everything a human wrote outside the
// changed field (comments, key order, quoting, blank lines, CRLF) stays byte-for-byte as it was.

import { isMap, isScalar, isSeq, type Node, parseDocument, type Scalar, stringify } from 'yaml';
import { fastYaml } from './fast.js';

export interface YamlProblem {
  message: string;
  /** 1-based line within the YAML text. */
  line?: number;
}

export type YamlParse =
  | { ok: true; value: unknown; lineOf: (path: readonly string[]) => number | undefined }
  | { ok: false; problem: YamlProblem };

const PARSE_OPTIONS = { version: '1.2', uniqueKeys: true, prettyErrors: false } as const;
/** How many alias expansions a document may make (a guard against alias bombs). */
const MAX_ALIAS_COUNT = 100;

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Parse YAML text into plain data, with a way to find the line of any key path (for error messages). */
export function parseYaml(text: string): YamlParse {
  // The shapes mailroom writes are read without the library; a line number (only ever wanted for
  // an error message about a field) asks the library then.
  const fast = fastYaml(text);
  if (fast === undefined) return libraryParse(text);
  const lineOf = (path: readonly string[]) => {
    const full = libraryParse(text);
    return full.ok ? full.lineOf(path) : undefined;
  };
  return { ok: true, value: fast, lineOf };
}

function libraryParse(text: string): YamlParse {
  const doc = parseDocument(text, PARSE_OPTIONS);
  const err = doc.errors[0];
  if (err) {
    const line = err.linePos?.[0]?.line ?? lineAt(text, err.pos[0]);
    return { ok: false, problem: { message: err.message.split('\n')[0] ?? err.message, line } };
  }
  const lineOf = (path: readonly string[]): number | undefined => {
    let node: unknown = doc.contents;
    let best: number | undefined;
    for (const key of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
        if (!pair) break;
        const keyNode = pair.key as Node;
        if (keyNode.range) best = lineAt(text, keyNode.range[0]);
        node = pair.value;
      } else if (isSeq(node)) {
        const item = node.items[Number(key)] as Node | undefined;
        if (!item) break;
        if (item.range) best = lineAt(text, item.range[0]);
        node = item;
      } else break;
    }
    return best;
  };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // The library throws (a ReferenceError) for an alias bomb (`b: [*a, *a, ...]` nested a few
    // levels, which expands exponentially) and for an alias to an anchor that is not set. Both are
    // facts about the file: reported like any bad YAML, never a crash of whoever read it.
    if (!(err instanceof Error)) throw err;
    const message = /alias count/i.test(err.message)
      ? `YAML aliases expand too much (at most ${MAX_ALIAS_COUNT})`
      : (err.message.split('\n')[0] ?? 'YAML cannot be read');
    return { ok: false, problem: { message } };
  }
  return { ok: true, value, lineOf };
}

/** Render a whole value as YAML (block style), lines ending with `eol`. */
export function renderYaml(value: unknown, eol = '\n'): string {
  return toEol(stringify(value, { lineWidth: 0 }), eol);
}

/** Render a mapping on one line, `{ a: 1, b: x }`, quoting values only where YAML needs it. */
export function renderFlowMap(value: Record<string, unknown>): string {
  return stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trimEnd();
}

function toEol(text: string, eol: string): string {
  return eol === '\n' ? text : text.replace(/\n/g, eol);
}

type ScalarValue = string | number | boolean | null;

function renderScalarLike(value: ScalarValue, style: Scalar.Type | undefined): string {
  if (typeof value === 'string') {
    if (style === 'QUOTE_DOUBLE') return JSON.stringify(value);
    if (style === 'QUOTE_SINGLE') return `'${value.replace(/'/g, "''")}'`;
  }
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/**
 * Edits the top-level mapping of a YAML text in place. Every operation re-parses the current text,
 * so ranges are always fresh; edits touch only the lines of the field they change.
 */
export class YamlEditor {
  private text: string;
  private readonly eol: string;

  constructor(text: string, eol: '\n' | '\r\n') {
    this.text = text;
    this.eol = eol;
  }

  toString(): string {
    return this.text;
  }

  private map() {
    const doc = parseDocument(this.text, PARSE_OPTIONS);
    if (doc.errors.length > 0 || !isMap(doc.contents)) {
      throw new Error('cannot edit: the YAML is not a valid mapping');
    }
    return doc.contents;
  }

  private pair(key: string) {
    const map = this.map();
    const index = map.items.findIndex((p) => isScalar(p.key) && String(p.key.value) === key);
    return { map, index, pair: index >= 0 ? map.items[index] : undefined };
  }

  private splice(start: number, end: number, insert: string): void {
    this.text = this.text.slice(0, start) + insert + this.text.slice(end);
  }

  /** Where a new top-level key goes: just before `history` (kept last by convention), else at the end. */
  private insertionPoint(): number {
    const { map, index } = this.pair('history');
    if (index > 0) {
      const prev = map.items[index - 1]!;
      const end = (prev.value as Node | null)?.range?.[2] ?? (prev.key as Node).range![2];
      return end;
    }
    if (index === 0) return lineStart(this.text, (map.items[0]!.key as Node).range![0]);
    if (this.text.length > 0 && !this.text.endsWith('\n')) this.text += this.eol;
    return this.text.length;
  }

  /** Set a top-level scalar field, keeping the quoting style of the old value. */
  setScalar(key: string, value: ScalarValue): void {
    const { pair } = this.pair(key);
    const old = pair?.value as Node | null | undefined;
    if (pair && isScalar(old) && old.range && old.type !== 'BLOCK_LITERAL' && old.type !== 'BLOCK_FOLDED') {
      this.splice(old.range[0], old.range[1], renderScalarLike(value, old.type));
      return;
    }
    this.setBlock(key, value);
  }

  /** Set a top-level field to any value, re-rendering only that field's lines. */
  setBlock(key: string, value: unknown): void {
    const rendered = renderYaml({ [key]: value }, this.eol);
    const { pair } = this.pair(key);
    if (pair) {
      const [start, end] = this.pairSpan(pair);
      this.splice(start, end, rendered);
      return;
    }
    const at = this.insertionPoint();
    this.splice(at, at, rendered);
  }

  remove(key: string): void {
    const { pair } = this.pair(key);
    if (!pair) return;
    const [start, end] = this.pairSpan(pair);
    this.splice(start, end, '');
  }

  /** Append one entry to a top-level block sequence, in the style of its last entry. */
  appendToSeq(key: string, entry: Record<string, unknown>): void {
    const { pair } = this.pair(key);
    const seq = pair?.value;
    if (!pair || !isSeq(seq) || seq.flow || seq.items.length === 0) {
      const items = isSeq(seq) ? (seq.toJSON() as unknown[]) : [];
      const lines = [...items, entry].map((item) =>
        typeof item === 'object' && item !== null && !Array.isArray(item)
          ? `  - ${renderFlowMap(item as Record<string, unknown>)}`
          : `  - ${renderScalarLike(item as ScalarValue, undefined)}`,
      );
      const rendered = `${key}:${this.eol}${lines.join(this.eol)}${this.eol}`;
      if (pair) {
        const [start, end] = this.pairSpan(pair);
        this.splice(start, end, rendered);
      } else {
        const at = this.insertionPoint();
        this.splice(at, at, rendered);
      }
      return;
    }
    const last = seq.items[seq.items.length - 1] as Node;
    const itemStart = last.range![0];
    const ls = lineStart(this.text, itemStart);
    const prefix = this.text.slice(ls, itemStart); // e.g. "  - "
    const indent = prefix.slice(0, prefix.length - prefix.trimStart().length);
    let rendered: string;
    if (isMap(last) && !last.flow) {
      const inner = `${indent}  `;
      const body = stringify(entry, { lineWidth: 0 }).trimEnd().split('\n');
      rendered = body.map((l, i) => (i === 0 ? `${indent}- ${l}` : `${inner}${l}`)).join(this.eol);
    } else {
      rendered = `${indent}- ${renderFlowMap(entry)}`;
    }
    // Insert after the end of the last item's line (its range may stop before a trailing comment).
    const lastEnd = last.range![1];
    let at = this.text.indexOf('\n', Math.max(lastEnd - 1, itemStart));
    if (at === -1) {
      this.text += this.eol;
      at = this.text.length;
    } else at += 1;
    this.splice(at, at, `${rendered}${this.eol}`);
  }

  /** The text span of a top-level pair: from the start of its key's line to the end of its value. */
  private pairSpan(pair: { key: unknown; value: unknown }): [number, number] {
    const keyNode = pair.key as Node;
    const valueNode = pair.value as Node | null;
    const start = lineStart(this.text, keyNode.range![0]);
    let end = valueNode?.range?.[2] ?? keyNode.range![2];
    // A scalar's node end stops before its line break: take the line break too.
    const nl = this.text.indexOf('\n', end - 1);
    if (!(end > 0 && this.text[end - 1] === '\n')) end = nl === -1 ? this.text.length : nl + 1;
    return [start, end];
  }
}

/**
 * Set a value at a key path in a YAML document (configuration edits), keeping comments and the
 * rest of the document. Missing or flow-style parent maps become block maps; the leaf is written in
 * flow style when `flowLeaf` (one agent per line reads best).
 */
export function setYamlIn(
  text: string,
  path: readonly string[],
  value: unknown,
  opts: { flowLeaf?: boolean } = {},
): string {
  const doc = parseDocument(text, PARSE_OPTIONS);
  if (doc.errors.length > 0) throw new Error(doc.errors[0]!.message);
  if (!isMap(doc.contents)) doc.contents = doc.createNode({}) as unknown as typeof doc.contents; // empty file
  for (let i = 1; i < path.length; i++) {
    const prefix = path.slice(0, i);
    const parent = doc.getIn(prefix, true);
    if (!isMap(parent)) doc.setIn(prefix, doc.createNode({}));
    else parent.flow = false;
  }
  doc.setIn(path, doc.createNode(value, { flow: opts.flowLeaf ?? false }));
  return doc.toString({ lineWidth: 0 });
}

/** Remove the key at a path (configuration edits: `agent rm`, `host rm`), keeping the rest. */
export function deleteYamlIn(text: string, path: readonly string[]): string {
  const doc = parseDocument(text, PARSE_OPTIONS);
  if (doc.errors.length > 0) throw new Error(doc.errors[0]!.message);
  doc.deleteIn(path);
  return doc.toString({ lineWidth: 0 });
}
