// Every example an agent is given (inbox-template/AGENT.md, and the README's section "Using mailroom
// from Claude Code and Codex") is copied into a real mailroom and run as written: the shell blocks
// through /bin/sh with `mailroom` on the PATH, the task files as file edits. All must succeed and
// nothing may be reported as unreadable. (AGENT.md's own example was once broken by a formatter.)

import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { splitFrontmatter } from '../../src/task/frontmatter.js';
import { BIN, newMailroom, REPO, runCli } from '../support/cli.js';

const run = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

interface Block {
  lang: string;
  text: string;
}

function blocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, text: m[2]! }));
}

const agentDoc = () => readFile(join(REPO, 'inbox-template/AGENT.md'), 'utf8');
async function readmeSection(): Promise<string> {
  const text = await readFile(join(REPO, 'README.md'), 'utf8');
  const start = text.indexOf('## Using mailroom from Claude Code and Codex');
  expect(start).toBeGreaterThan(-1);
  const end = text.indexOf('\n## ', start + 3);
  return text.slice(start, end === -1 ? undefined : end);
}

/** One mailroom with research and coder, made once; each example gets a copy (no CLI runs to make it). */
let template: Promise<{ dir: string; root: string }> | undefined;

/** A fresh mailroom with research and coder, and `mailroom` on a PATH of its own. */
async function fixture() {
  template ??= newMailroom(['research', 'coder']).then((env) => {
    cleanups.push(env.cleanup);
    return { dir: env.dir, root: env.root };
  });
  const { root: source } = await template;
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-doc-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'mr');
  await cp(source, root, { recursive: true });
  const mr = (args: string[]) => runCli([...args, '--root', root]);
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'mailroom'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  await chmod(join(bin, 'mailroom'), 0o755);
  return { dir, root, mr, bin };
}

type Fixture = Awaited<ReturnType<typeof fixture>>;

/** The task an example's ID stands for, in the state the example needs. */
async function setUp(f: Fixture, script: string): Promise<string> {
  const out = async (args: string[]) => {
    const r = await f.mr(args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout.trim();
  };
  if (/\banswer ID\b/.test(script)) return out(['ask', 'research', 'Which branch?', '--as', 'coder']);
  if (/\barchive ID\b/.test(script)) {
    // A task research sent, finished by coder and routed back (the move the daemon makes).
    const id = await out(['send', 'coder', 'Find the flaky test', '--as', 'research']);
    await out(['done', id, '--result', 'test/x.test.ts', '--as', 'coder']);
    await rename(
      join(f.root, `agents/coder/outbox/${id}.md`),
      join(f.root, `agents/research/inbox/${id}.md`),
    );
    return id;
  }
  return out(['send', 'research', 'Summarise five articles', '--body', 'Read them.', '--as', 'dispatch']);
}

/** The examples are one shell session: what an earlier block exported holds in the later ones. */
const exportsOf = (scripts: string[]) =>
  scripts.flatMap((s) => s.split('\n').filter((l) => l.startsWith('export ')));

async function runExample(script: string, opts: { cwdInAgent: boolean; before?: string[] }) {
  const f = await fixture();
  const id = await setUp(f, script);
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${f.bin}:${process.env.PATH}` };
  delete env.MAILROOM_AGENT;
  delete env.MAILROOM_ROOT;
  let cwd = join(f.root, 'agents/research'); // AGENT.md: the root is found by walking up
  if (!opts.cwdInAgent) {
    cwd = join(f.dir, 'project');
    await mkdir(cwd);
    env.MAILROOM_ROOT = f.root; // the README's MCP configuration sets it
  }
  const body = [...exportsOf(opts.before ?? []), script].join('\n').replace(/\bID\b/g, id);
  try {
    await run('/bin/sh', ['-e', '-c', body], { cwd, env });
  } catch (err) {
    const e = err as { code?: number; stderr?: string; stdout?: string };
    throw new Error(`example failed (exit ${e.code}):\n${body}\nstderr: ${e.stderr}\nstdout: ${e.stdout}`);
  }
  const ls = JSON.parse((await f.mr(['ls', '--json'])).stdout);
  expect(ls.problems).toEqual([]);
  return f;
}

describe('AGENT.md, run as written', () => {
  it('every shell example succeeds, in a mailroom found from the agent folder', async () => {
    const sh = blocks(await agentDoc()).filter((b) => b.lang === 'sh');
    expect(sh.length).toBeGreaterThanOrEqual(5);
    for (const [i, b] of sh.entries())
      await runExample(b.text, { cwdInAgent: true, before: sh.slice(0, i).map((x) => x.text) });
  }, 600_000); // a hang guard: some 40 CLI runs, slow on a loaded 2-core machine

  it('the task file example is readable, and finishing it by hand as shown is too', async () => {
    const md = blocks(await agentDoc()).filter((b) => b.lang === 'markdown');
    expect(md).toHaveLength(2);
    const [before, after] = md as [Block, Block];
    const f = await fixture();
    const id = /^id: (\S+)$/m.exec(before.text)![1]!;
    const inbox = join(f.root, `agents/research/inbox/${id}.md`);
    await writeFile(inbox, before.text);
    const first = JSON.parse((await f.mr(['ls', '--json'])).stdout);
    expect(first.problems).toEqual([]);
    expect(first.tasks).toEqual([expect.objectContaining({ id, state: 'queued' })]);

    // The edit the instructions describe: the state line changes, history lines are appended at the
    // column of the ones above, the result goes at the end of the body. Nothing else moves.
    const b = splitFrontmatter(before.text);
    const a = splitFrontmatter(after.text);
    if (!b.ok || !a.ok) throw new Error('no frontmatter');
    const bLines = b.file.yaml.split('\n');
    const aLines = a.file.yaml.split('\n');
    expect(
      aLines
        .filter((l) => !bLines.includes(l))
        .every((l) => l.startsWith('state: ') || l.startsWith('  - { ')),
    ).toBe(true);
    expect(bLines.filter((l) => !aLines.includes(l))).toEqual(['state: queued']);
    expect(a.file.body.startsWith(b.file.body)).toBe(true);

    await rm(inbox);
    await writeFile(join(f.root, `agents/research/outbox/${id}.md`), after.text);
    const second = JSON.parse((await f.mr(['ls', '--json'])).stdout);
    expect(second.problems).toEqual([]);
    expect(second.tasks).toEqual([expect.objectContaining({ id, state: 'done', box: 'outbox' })]);
    const shown = JSON.parse((await f.mr(['show', id, '--json'])).stdout);
    expect(shown.result).toBe('Five summaries, one paragraph each.');
    const doctor = await f.mr(['doctor']);
    expect(doctor.code, doctor.stdout).toBe(0);
  });
});

describe("README's agent section, run as written", () => {
  it('every shell example succeeds; the MCP snippets are well-formed and start `mailroom mcp`', async () => {
    const section = blocks(await readmeSection());
    const sh = section.filter((b) => b.lang === 'sh');
    expect(sh.length).toBeGreaterThanOrEqual(2);
    for (const [i, b] of sh.entries())
      await runExample(b.text, { cwdInAgent: false, before: sh.slice(0, i).map((x) => x.text) });
    // (the hang guard of this test is the default: a handful of CLI runs)
    const json = section.filter((b) => b.lang === 'json');
    expect(json).toHaveLength(1);
    expect(JSON.parse(json[0]!.text).mcpServers.mailroom).toMatchObject({
      command: 'mailroom',
      args: ['mcp', '--as', 'research'],
    });
    const toml = section.filter((b) => b.lang === 'toml');
    expect(toml).toHaveLength(1);
    expect(toml[0]!.text).toMatch(
      /^\[mcp_servers\.mailroom\]\ncommand = "mailroom"\nargs = \["mcp", "--as", "research"\]$/m,
    );
  });
});
