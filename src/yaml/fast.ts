// A fast reader for the frontmatter mailroom itself writes: top-level `key: value` lines with plain
// scalars, and lists of flat maps (`history:` with `- { state: queued, at: ..., by: ... }` items, or
// the same in block style). It answers only when it is sure to give what the `yaml` library gives
// under the same options (YAML 1.2 core schema, unique keys); for anything else (quotes, comments,
// blank lines, block scalars, anchors, tags, floats, booleans, nested maps, CRLF, ...) it answers
// undefined and the caller parses with the library. The library costs about 0.3 ms per task; a
// mailroom of 10,000 tasks parses every task on a first sync, a cold board, every `ls`.
//
// Invariant (test/yaml/fast.test.ts): for any text, fastYaml(text) is undefined or deep-equals the
// library's value for that text.

type Flat = Record<string, unknown>;

/** A key the fast reader and the fast editor (fast-edit.ts) take as plain text. */
export const KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;
// Keys the core schema would resolve to something other than that string (true, null, ...), and
// `__proto__`, which a plain object cannot hold as an own key by assignment.
const ODD_KEY = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE|[Nn]ull|NULL|__proto__)$/;

// A plain scalar that is certainly a string or a small decimal int in both block and flow context:
// it starts with a letter, digit or `_`, and holds no character that could start a comment, end a
// flow item, quote, or open a collection. `: ` (a key) and a trailing `:` are checked separately.
const PLAIN = /^[\p{L}\p{N}_][\p{L}\p{N}\p{M} _./@+\-:()'"?!=~;^$%]*$/u;
// Any of these makes a plain scalar a number, boolean or null under the core schema.
const NOT_STRING = [
  /^(?:~|[Nn]ull|NULL)?$/,
  /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/,
  /^0o[0-7]+$/,
  /^[-+]?[0-9]+$/,
  /^0x[0-9a-fA-F]+$/,
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
];
export const SMALL_INT = /^(?:0|[1-9][0-9]{0,14})$/;

/** A plain scalar's value, or undefined when this reader is not sure of it. */
function scalar(raw: string): string | number | undefined {
  if (SMALL_INT.test(raw)) return Number(raw);
  if (!PLAIN.test(raw) || raw.includes(': ') || raw.endsWith(':') || raw.endsWith(' ')) return undefined;
  if (raw.includes('  ')) return undefined; // folded differently in some contexts; let the library say
  for (const re of NOT_STRING) if (re.test(raw)) return undefined;
  return raw;
}

/** `{ a: 1, b: x }` with plain scalars only; undefined when unsure. */
function flowMap(raw: string): Flat | undefined {
  if (!raw.startsWith('{') || !raw.endsWith('}')) return undefined;
  const inner = raw.slice(1, -1).trim();
  const out: Flat = {};
  if (inner === '') return out;
  for (const part of inner.split(',')) {
    const item = part.trim();
    const colon = item.indexOf(': ');
    if (colon <= 0) return undefined;
    const key = item.slice(0, colon);
    const value = scalar(item.slice(colon + 2).trim());
    if (!KEY.test(key) || ODD_KEY.test(key) || value === undefined || Object.hasOwn(out, key))
      return undefined;
    out[key] = value;
  }
  return out;
}

/** `key: value` at `indent` spaces; undefined when the line is not that. */
function pair(line: string, indent: number): [string, string] | undefined {
  for (let i = 0; i < indent; i++) if (line.charCodeAt(i) !== 32) return undefined;
  const colon = line.indexOf(':', indent);
  if (colon <= indent) return undefined;
  const key = line.slice(indent, colon);
  if (!KEY.test(key) || ODD_KEY.test(key)) return undefined;
  const rest = line.slice(colon + 1);
  if (rest === '') return [key, ''];
  if (!rest.startsWith(' ')) return undefined;
  const value = rest.trimStart();
  return value === '' ? undefined : [key, value];
}

const indentOf = (line: string): number => {
  let n = 0;
  while (line.charCodeAt(n) === 32) n++;
  return n;
};

/**
 * The lines of a list under a key, from `lines[i]`: returns the list and the index after it, or
 * undefined when unsure. Items are flow maps, plain scalars, or block maps of plain scalars.
 */
function list(lines: readonly string[], start: number): [unknown[], number] | undefined {
  const dash = indentOf(lines[start]!);
  const out: unknown[] = [];
  let i = start;
  while (i < lines.length) {
    const line = lines[i]!;
    if (indentOf(line) !== dash || !line.startsWith('- ', dash)) break;
    const first = line.slice(dash + 2);
    if (first.startsWith('{')) {
      const m = flowMap(first);
      if (!m) return undefined;
      out.push(m);
      i++;
      continue;
    }
    const firstPair = pair(first, 0);
    if (!firstPair) {
      const v = scalar(first);
      if (v === undefined) return undefined;
      out.push(v);
      i++;
      continue;
    }
    // A block map: this line's pair, then pairs at the column after "- ".
    const m: Flat = {};
    let p: [string, string] | undefined = firstPair;
    const col = dash + 2;
    for (;;) {
      const value = scalar(p[1]);
      if (value === undefined || Object.hasOwn(m, p[0])) return undefined;
      m[p[0]] = value;
      i++;
      if (i >= lines.length || indentOf(lines[i]!) !== col) break;
      p = pair(lines[i]!, col);
      if (!p) return undefined;
    }
    out.push(m);
  }
  // Indented lines that are not a list (a nested map, say): not this reader's.
  return out.length === 0 ? undefined : [out, i];
}

/** The frontmatter's fields when this reader is sure of them; undefined: ask the `yaml` library. */
export function fastYaml(text: string): Flat | undefined {
  if (text.includes('\r') || text.includes('\t')) return undefined;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const out: Flat = {};
  let i = 0;
  while (i < lines.length) {
    const p = pair(lines[i]!, 0);
    if (!p || Object.hasOwn(out, p[0])) return undefined;
    const [key, raw] = p;
    i++;
    if (raw !== '') {
      const v = raw.startsWith('{') ? flowMap(raw) : scalar(raw);
      if (v === undefined) return undefined;
      out[key] = v;
      continue;
    }
    // `key:` alone: a list below it (at any indent, even none), or nothing (null).
    const next = lines[i];
    if (next === undefined || (indentOf(next) === 0 && !next.startsWith('- '))) {
      out[key] = null;
      continue;
    }
    const l = list(lines, i);
    if (!l) return undefined;
    [out[key], i] = l;
  }
  return i === 0 ? undefined : out;
}
