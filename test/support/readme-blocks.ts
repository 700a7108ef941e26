// Runs the README's marked command blocks, in order, as a reader would type them. Only blocks right
// after a marker comment run, so other sections of the README can come and go freely:
//
//   <!-- readme-test: SCENARIO [background ready="TEXT"] [replace="FROM=>TO; FROM=>TO"] -->
//   ```sh
//   ...
//   ```
//
// The blocks of one scenario run as one bash script (exports carry over), stopping at the first
// failing command and naming the README line of its block. `background` starts a block that does not
// end (a daemon) and waits until its output shows `ready`. `replace` adapts a block to the test
// machine (a private sshd instead of a VPS); `{name}` in a replacement is filled in by the test.

export interface ReadmeBlock {
  scenario: string;
  lang: string;
  /** 1-based line of the opening fence. */
  line: number;
  text: string;
  background: boolean;
  ready?: string;
  replace: [string, string][];
}

const MARKER = /^<!--\s*readme-test:\s*([\w-]+)(.*?)-->\s*$/;

export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i] ?? '');
    if (!m) continue;
    const fence = /^```(\w*)\s*$/.exec(lines[i + 1] ?? '');
    if (!fence)
      throw new Error(`README line ${i + 1}: a readme-test marker must be followed by a \`\`\` fence`);
    const end = lines.findIndex((l, j) => j > i + 1 && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`README line ${i + 2}: the block never closes`);
    const attrs = m[2] ?? '';
    const ready = /ready="([^"]*)"/.exec(attrs)?.[1];
    const replace = (/replace="([^"]*)"/.exec(attrs)?.[1] ?? '')
      .split(';')
      .map((pair) => pair.trim())
      .filter(Boolean)
      .map((pair) => {
        const [from, to] = pair.split('=>');
        if (from === undefined || to === undefined)
          throw new Error(`README line ${i + 1}: bad replace ${pair}`);
        return [from.trim(), to.trim()] as [string, string];
      });
    blocks.push({
      scenario: m[1]!,
      lang: fence[1] ?? '',
      line: i + 2,
      text: lines.slice(i + 2, end).join('\n'),
      background: /\bbackground\b/.test(attrs),
      ...(ready === undefined ? {} : { ready }),
      replace,
    });
    i = end;
  }
  return blocks;
}

/** The block's text with its replacements applied and `{name}` filled from `values`. */
export function adapt(block: ReadmeBlock, values: Record<string, string>): string {
  let text = block.text;
  for (const [from, to] of block.replace) {
    if (!text.includes(from))
      throw new Error(`README line ${block.line}: "${from}" is not in the block any more`);
    text = text.split(from).join(to.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? `{${k}}`));
  }
  return text;
}

/** One bash script for a scenario's blocks. `logDir` holds the output of background blocks. */
export function scenarioScript(
  blocks: ReadmeBlock[],
  values: Record<string, string>,
  logDir: string,
): string {
  const out = [
    'set -euo pipefail',
    'shopt -s expand_aliases',
    'README_LINE=0',
    `trap 'echo "README block at line $README_LINE failed (exit $?)" >&2' ERR`,
    'readme_wait() {',
    '  local deadline=$((SECONDS + 90))',
    '  until grep -qF -- "$2" "$1"; do',
    '    if ((SECONDS > deadline)); then',
    '      echo "README block at line $README_LINE: no \\"$2\\" in its output within 90 s:" >&2; cat "$1" >&2; exit 1',
    '    fi',
    '    sleep 0.1',
    '  done',
    '}',
  ];
  for (const b of blocks) {
    out.push(`README_LINE=${b.line}`);
    const text = adapt(b, values);
    if (!b.background) {
      out.push(text);
      continue;
    }
    const log = `${logDir}/background-${b.line}.log`;
    out.push(`( ${text}\n) > '${log}' 2>&1 &`);
    if (b.ready) out.push(`readme_wait '${log}' ${JSON.stringify(b.ready)}`);
  }
  return `${out.join('\n')}\n`;
}
