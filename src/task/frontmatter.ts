// Splits a task file into its parts without changing a byte: joining the parts gives the file back.
// Pure text in, text out; no YAML here.

export interface SplitFile {
  /** A UTF-8 byte order mark, kept if the file had one. */
  bom: string;
  /** The line ending the file uses, taken from its first line. */
  eol: '\n' | '\r\n';
  /** The opening `---` line including its line ending. */
  open: string;
  /** The YAML between the fences. */
  yaml: string;
  /** The closing `---` line including its line ending (may lack one at end of file). */
  close: string;
  /** Everything after the closing fence. */
  body: string;
}

export type SplitResult =
  | { ok: true; file: SplitFile }
  | { ok: false; reason: 'no-frontmatter' | 'unclosed'; line: number };

const FENCE = /^---[ \t]*$/;
const CLOSE = /^(---|\.\.\.)[ \t]*$/;

export function detectEol(text: string): '\n' | '\r\n' {
  const nl = text.indexOf('\n');
  return nl > 0 && text[nl - 1] === '\r' ? '\r\n' : '\n';
}

export function splitFrontmatter(text: string): SplitResult {
  const bom = text.startsWith('\uFEFF') ? '\uFEFF' : '';
  const rest = text.slice(bom.length);
  const firstNl = rest.indexOf('\n');
  const firstLine = (firstNl === -1 ? rest : rest.slice(0, firstNl)).replace(/\r$/, '');
  if (!FENCE.test(firstLine)) return { ok: false, reason: 'no-frontmatter', line: 1 };
  if (firstNl === -1) return { ok: false, reason: 'unclosed', line: 1 };
  const eol = detectEol(rest);
  const open = rest.slice(0, firstNl + 1);
  let pos = firstNl + 1;
  while (pos <= rest.length) {
    const nl = rest.indexOf('\n', pos);
    const end = nl === -1 ? rest.length : nl + 1;
    const content = rest.slice(pos, nl === -1 ? rest.length : nl).replace(/\r$/, '');
    if (CLOSE.test(content)) {
      return {
        ok: true,
        file: {
          bom,
          eol,
          open,
          yaml: rest.slice(firstNl + 1, pos),
          close: rest.slice(pos, end),
          body: rest.slice(end),
        },
      };
    }
    if (nl === -1) break;
    pos = end;
  }
  return { ok: false, reason: 'unclosed', line: 1 };
}

export function joinFrontmatter(f: SplitFile): string {
  return f.bom + f.open + f.yaml + f.close + f.body;
}
