// S5: hostile and broken input. 10,000 generated files are dropped into twenty inboxes, with plain
// writes (as a script or a careless person would), while the real daemon runs: invalid YAML, wrong
// types, unknown states, ids that do not match the name, BOMs, CRLF, a few 10 MB bodies (written in
// pieces, as a slow copy would), binary, invalid UTF-8, empty files, frontmatter without its end,
// YAML alias bombs, duplicate ids, names with spaces, unicode, newlines and 250 bytes, dot files and
// editor leftovers, and good tasks and drop-ins among them. Then some bad files are changed again
// (a new version must be reported again) and some are fixed (the report must go away), and the
// daemon is restarted (nothing may be reported twice).
// Promises checked: the daemon never crashes and still routes a task afterwards; every bad file is
// reported exactly once per content version (a task.unreadable event and a sidecar); no good file is
// reported; every input byte is kept: each file is unchanged, or, for a drop-in the daemon completed
// into a task, its original text is in the completed file; duplicate ids are kept and listed by
// `mailroom doctor`.

import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Rng } from '../rng.js';
import {
  DaemonProc,
  type DefectId,
  type Figure,
  makeRoot,
  readEvents,
  runCli,
  Tally,
  taskText,
  tempDir,
  waitFor,
} from '../support.js';

export interface S5Options {
  rng: Rng;
  files: number;
  /** How many 10 MB files (half good, half bad). */
  big: number;
  log: (line: string) => void;
  verbose?: boolean;
  tolerate?: ReadonlySet<DefectId>;
}

/** What the daemon must do with a file. */
type Expect = 'keep' | 'report' | 'complete' | 'ignore';

interface Input {
  agent: string;
  name: string;
  bytes: Buffer;
  expect: Expect;
  kind: string;
  /** For duplicates: the id shared with another file. */
  dupOf?: string;
  /** How many bad versions of it were written (each must be reported once). */
  badVersions?: number;
}

const AGENTS = Array.from({ length: 20 }, (_, i) => `h${String(i).padStart(2, '0')}`);

function validTask(
  id: string,
  agent: string,
  body: string,
  opts: { bom?: boolean; crlf?: boolean } = {},
): Buffer {
  let text = taskText({ id, from: 'dispatch', to: agent }, body);
  if (opts.crlf) text = text.replace(/\n/g, '\r\n');
  if (opts.bom) text = `\uFEFF${text}`;
  return Buffer.from(text, 'utf8');
}

const UNICODE_NAMES = [
  'Überprüfung der Zahlen',
  'задача номер',
  '任务 清单',
  'café crème',
  'emoji 🚀 launch',
  'ﬁle ligature',
  'tab\tname',
  'semi;colon',
  "quote's",
  '$(touch x)',
];

/** One generated input file (two for a duplicated id). */
function generate(r: Rng, n: number, big: { left: number }): Input[] {
  const one = generateOne(r, n, big);
  if (one.kind !== 'duplicate id') return [one];
  const other = r.pick(AGENTS.filter((a) => a !== one.agent));
  const id = one.name.slice(0, -3);
  return [one, { ...one, agent: other, bytes: validTask(id, other, `The other copy of ${id}.\n`) }];
}

function generateOne(r: Rng, n: number, big: { left: number }): Input {
  const agent = r.pick(AGENTS);
  const id = `s5-${n}`;
  const body = `Generated input ${n}.\n`;
  const good = (b = body, o: { bom?: boolean; crlf?: boolean } = {}) => validTask(id, agent, b, o);
  const text = (s: string) => Buffer.from(s, 'utf8');
  const fm = (yaml: string, b = body) => text(`---\n${yaml}\n---\n${b}`);
  const base = `id: ${id}\ntitle: t ${n}\nfrom: dispatch\nto: ${agent}\ncreated: 2026-11-22T10:15:00Z`;
  if (big.left > 0 && n % 997 === 500) {
    big.left--;
    const huge = `${'A 10 MB body line of text, repeated. '.repeat(28)}\n`.repeat((10 * 1024 * 1024) / 1037);
    return big.left % 2 === 0
      ? // Over limits.task_file (4 MB by default): reported by name, never read whole (docs/spec.md §6).
        { agent, name: `${id}.md`, bytes: good(huge), expect: 'report', kind: '10 MB good' }
      : {
          agent,
          name: `${id}.md`,
          bytes: fm(`${base}\nstate: exploded`, huge),
          expect: 'report',
          kind: '10 MB bad',
        };
  }
  const roll = r.int(100);
  if (roll < 10) return { agent, name: `${id}.md`, bytes: good(), expect: 'keep', kind: 'good' };
  if (roll < 15)
    return { agent, name: `${id}.md`, bytes: good(body, { bom: true }), expect: 'keep', kind: 'good BOM' };
  if (roll < 20)
    return {
      agent,
      name: `${id}.md`,
      bytes: good(body, { crlf: true, bom: r.chance(0.5) }),
      expect: 'keep',
      kind: 'good CRLF',
    };
  if (roll < 30) {
    const bad = r.pick([
      `${base}\nstate: queued\n  bad: indent`,
      `${base}\nstate: "queued`,
      `${base}\nstate: queued\nstate: acked`,
      `${base}\n\tstate: queued`,
      `${base}\nstate: [queued`,
      `${base}\nstate: queued\nhistory: [{state: queued, at: }`,
      '{ not: yaml: at all',
      `${base}\nstate: queued\n"unclosed: x`,
    ]);
    return { agent, name: `${id}.md`, bytes: fm(bad), expect: 'report', kind: 'invalid YAML' };
  }
  if (roll < 42) {
    const bad = r.pick([
      `${base}\nstate: 5`,
      `${base}\nstate: finished`,
      `${base}\nstate: queued\nattempt: two`,
      `${base}\nstate: queued\npriority: 7`,
      `${base}\nstate: queued\nhistory: x`,
      `${base}\nstate: queued\nhistory: [{state: queued}]`,
      `${base.replace(/created: .*/, 'created: yesterday')}\nstate: queued`,
      `${base.replace(`to: ${agent}`, 'to: ../../etc')}\nstate: queued`,
      `${base.replace(`id: ${id}`, 'id: [1, 2]')}\nstate: queued`,
      `${base.replace(`id: ${id}`, `id: other-${n}`)}\nstate: queued`,
      `${base}\nstate: queued\nack_timeout: soon`,
      `${base}\nstate: queued\nerror: broken`,
      '- a list\n- not fields',
      'just a scalar',
    ]);
    return { agent, name: `${id}.md`, bytes: fm(bad), expect: 'report', kind: 'wrong types' };
  }
  if (roll < 47) {
    const bytes = r.bytes(r.range(16, 4096));
    bytes[r.int(bytes.length)] = 0;
    return { agent, name: `${id}.md`, bytes, expect: 'report', kind: 'binary' };
  }
  if (roll < 50) {
    const bytes = Buffer.concat([
      text(`---\n${base}\nstate: queued\n---\nbad utf-8: `),
      Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
      text('\n'),
    ]);
    return { agent, name: `${id}.md`, bytes, expect: 'report', kind: 'invalid UTF-8' };
  }
  if (roll < 55) {
    const bytes = r.pick([Buffer.alloc(0), text('\n'), text('   \n\n'), text('---\n---\n')]);
    return { agent, name: `${id}.md`, bytes, expect: 'keep', kind: 'empty' };
  }
  if (roll < 60)
    return {
      agent,
      name: `${id}.md`,
      bytes: text(`---\n${base}\nstate: queued\n${body}`),
      expect: 'report',
      kind: 'frontmatter without end',
    };
  if (roll < 61) {
    const bomb =
      'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]';
    return {
      agent,
      name: `${id}.md`,
      bytes: fm(`${base}\nstate: queued\n${bomb}`),
      expect: 'report',
      kind: 'YAML alias bomb',
    };
  }
  if (roll < 65)
    return {
      agent,
      name: `${id}.md`,
      bytes: good(`Duplicate ${n}.\n`),
      expect: 'keep',
      kind: 'duplicate id',
      dupOf: id,
    };
  if (roll < 76) {
    const name = `${r.pick(UNICODE_NAMES)} ${n}.md`;
    return r.chance(0.5)
      ? {
          agent,
          name,
          bytes: text(`# Please look at item ${n}\n\nA note with a name that is not an id.\n`),
          expect: 'complete',
          kind: 'odd name, body only',
        }
      : { agent, name, bytes: good(), expect: 'report', kind: 'odd name, full task' };
  }
  if (roll < 78) {
    const name = r.pick([
      `line\nbreak ${n}.md`,
      `-rf ${n}.md`,
      `${'x'.repeat(246)}${String(n).padStart(4, '0')}.md`,
      `${'ü'.repeat(100)}${n}.md`,
    ]);
    return {
      agent,
      name,
      bytes: good(),
      expect: 'report',
      kind: name.length > 200 ? 'very long name' : 'odd name, full task',
    };
  }
  if (roll < 80) {
    const name = r.pick([`.${id}.md`, `${id}.md~`, `.${id}.md.swp`, `${id}.md.tmp`]);
    return {
      agent,
      name,
      bytes: text('---\nnot: [closed\n'),
      expect: 'ignore',
      kind: 'dot file / editor leftover',
    };
  }
  if (roll < 90)
    return {
      agent,
      name: `${id}.md`,
      bytes: text(`${r.chance(0.3) ? '\uFEFF' : ''}Check item ${n} before Friday.\r\n\r\nMore words.\r\n`),
      expect: 'complete',
      kind: 'body only',
    };
  return {
    agent,
    name: `${id}.md`,
    bytes: fm(`title: Title-only drop ${n}\npriority: high`, 'Some details.\n'),
    expect: 'complete',
    kind: 'title only',
  };
}

/** The completed task at `where`, or wherever it went since (the supervisor may have moved it). */
async function findTask(root: string, where: string): Promise<Buffer | undefined> {
  const at = await readFile(join(root, where)).catch(() => undefined);
  if (at) return at;
  const name = where.split('/').pop()!;
  for (const agent of await readdir(join(root, 'agents')))
    for (const box of ['inbox', 'outbox', 'archive']) {
      const found = await readFile(join(root, 'agents', agent, box, name)).catch(() => undefined);
      if (found) return found;
    }
  return undefined;
}

export async function runS5(opts: S5Options): Promise<Figure> {
  const started = Date.now();
  const tally = new Tally('S5', 'hostile-input', opts.log, opts.tolerate);
  const tmp = await tempDir('s5');
  const root = join(tmp.dir, 'mr');
  let daemon: DaemonProc | undefined;
  let keep = false;
  try {
    await makeRoot(
      root,
      `agents:\n  dispatch: {}\n  human: {}\n${AGENTS.map((a) => `  ${a}: {}`).join('\n')}\n`,
      ['dispatch', 'human', ...AGENTS],
    );
    daemon = await DaemonProc.start(root, ['--rescan', '2s']);
    await daemon.passes(1);

    const r = opts.rng;
    const big = { left: opts.big };
    const inputs: Input[] = [];
    for (let n = 0; inputs.length < opts.files; n++) inputs.push(...generate(r, n, big));
    const pathOf = (i: Input) => join(root, 'agents', i.agent, 'inbox', i.name);
    tally.startTrial();
    let t = Date.now();
    // Plain writes, 32 at a time; 10 MB files in 1 MB pieces with short pauses.
    let next = 0;
    const lane = async () => {
      while (next < inputs.length) {
        const i = inputs[next++]!;
        if (i.bytes.length > 1_000_000) {
          const fh = await open(pathOf(i), 'w');
          for (let off = 0; off < i.bytes.length; off += 1 << 20) {
            await fh.write(i.bytes.subarray(off, off + (1 << 20)));
            await delay(20);
          }
          await fh.close();
        } else await writeFile(pathOf(i), i.bytes);
      }
    };
    await Promise.all(Array.from({ length: 32 }, lane));
    const writeMs = Date.now() - t;

    const reportsOf = async () => {
      const m = new Map<string, number>();
      for (const e of await readEvents(root))
        if (e.type === 'task.unreadable' && e.path) m.set(e.path, (m.get(e.path) ?? 0) + 1);
      return m;
    };
    const rel = (i: Input) => `agents/${i.agent}/inbox/${i.name}`;
    const toReport = inputs.filter((i) => i.expect === 'report');
    const toComplete = inputs.filter((i) => i.expect === 'complete');
    // Wait until every bad file is reported and every drop-in completed, or until two whole passes
    // have gone by without anything new.
    t = Date.now();
    let last = -1;
    let quietSince = (await daemon.status())?.passes ?? 0;
    for (;;) {
      const reports = await reportsOf();
      const completed = (await readEvents(root)).filter((e) => e.type === 'task.completed').length;
      const done =
        toReport.filter((i) => reports.has(rel(i))).length + Math.min(completed, toComplete.length);
      if (done === toReport.length + toComplete.length) break;
      const passesNow = (await daemon.status())?.passes ?? 0;
      if (done !== last) {
        last = done;
        quietSince = passesNow;
      } else if (passesNow >= quietSince + 3) break;
      if (!daemon.alive) break;
      await delay(250);
    }
    const settleMs = Date.now() - t;
    // Two more passes, so that anything reported twice would show.
    const passes = (await daemon.status())?.passes ?? 0;
    await daemon.passes(passes + 2, 120_000).catch((err: Error) => tally.fail(err.message));
    tally.check(daemon.alive, () => `the daemon died: ${daemon?.output().slice(-1500)}`);

    const judge = async (phase: string) => {
      const reports = await reportsOf();
      const events = await readEvents(root);
      const completedFrom = new Map<string, string>(); // original name -> completed path
      for (const e of events)
        if (e.type === 'task.completed' && e.path) {
          const from =
            typeof e.note === 'string' && e.note.startsWith('from ')
              ? e.note.slice(5)
              : String(e.path).split('/').pop()!;
          completedFrom.set(`${e.agent}/${from}`, String(e.path));
        }
      const byKind = new Map<string, { n: number; bad: number }>();
      let lostBytes = 0;
      const problems: string[] = [];
      for (const i of inputs) {
        const k = byKind.get(i.kind) ?? { n: 0, bad: 0 };
        k.n++;
        byKind.set(i.kind, k);
        const wrong = (why: string, lost = false) => {
          k.bad++;
          if (lost) lostBytes++;
          if (problems.length < 12)
            problems.push(`${i.kind} ${JSON.stringify(i.name)} in ${i.agent}: ${why}`);
        };
        const times = reports.get(rel(i)) ?? 0;
        const now = await readFile(pathOf(i)).catch(() => undefined);
        if (i.expect === 'report' || i.expect === 'keep' || i.expect === 'ignore') {
          if (!now) wrong('the file is gone', true);
          else if (!now.equals(i.bytes)) wrong('the file was changed', true);
        }
        const want = i.badVersions ?? (i.expect === 'report' ? 1 : 0);
        if (times !== want)
          wrong(
            `reported ${times} times (expected ${want === 0 ? 'never' : want === 1 ? 'once' : `${want} times, once per version`})`,
          );
        if (i.expect === 'complete') {
          const where = completedFrom.get(`${i.agent}/${i.name}`);
          const text = where ? await findTask(root, where) : undefined;
          if (!where) wrong(`never completed${now ? '' : ' and the file is gone'}`, !now);
          else if (!text) wrong(`completed into ${where}, which is gone`, true);
          else {
            // The original body survives: a body-only drop is the new frontmatter plus the original
            // text; a title-only drop keeps its body after the (edited) frontmatter.
            const original = i.bytes.toString('utf8');
            const body = original.startsWith('---')
              ? original.slice(original.indexOf('\n---\n') + 5)
              : original;
            if (!text.toString('utf8').endsWith(body))
              wrong(`the completed file ${where} lost the original text`, true);
          }
        }
      }
      if (opts.verbose) for (const p of problems) opts.log(`    ${phase}: ${p}`);
      // Kinds that break a promise because of a known defect (and only those kinds).
      const byDefect: Record<string, DefectId> = { 'YAML alias bomb': 'D5', 'very long name': 'D6' };
      for (const [k, v] of byKind)
        if (v.bad > 0 && byDefect[k])
          tally.defect(byDefect[k], `${phase}: ${k}: ${v.bad} of ${v.n} broke a promise`);
      const failing = [...byKind].filter(([k, v]) => v.bad > 0 && !byDefect[k]);
      if (failing.length > 0)
        tally.fail(
          `${phase}: ${failing.map(([k, v]) => `${k} ${v.bad}/${v.n}`).join(', ')} broke a promise; first: ${problems.find((p) => !Object.keys(byDefect).some((k) => p.startsWith(k))) ?? ''}`,
          lostBytes,
        );
      return byKind;
    };
    const kinds = await judge('after the flood');

    // Duplicates are kept and listed by doctor.
    const doctor = await runCli(['doctor', '--json', '--root', root]);
    let listed = 0;
    try {
      const findings = (JSON.parse(doctor.stdout) as { findings: { check: string; problem: string }[] })
        .findings;
      const dupIds = new Set(inputs.filter((i) => i.dupOf).map((i) => i.dupOf!));
      listed = [...dupIds].filter((id) =>
        findings.some((f) => f.check === 'duplicates' && f.problem.includes(`task ${id} `)),
      ).length;
      tally.check(listed === dupIds.size, () => `doctor lists ${listed} of ${dupIds.size} duplicated ids`);
    } catch {
      const what = `mailroom doctor --json failed (exit ${doctor.code}): ${doctor.stderr.split('\n')[0]}`;
      if (/Excessive alias count/.test(doctor.stderr)) tally.defect('D5', what);
      else tally.fail(what);
    }
    const ls = await runCli(['ls', '--json', '--root', root]);
    if (ls.code !== 0) {
      const what = `mailroom ls fails among the hostile files (exit ${ls.code}): ${ls.stderr.split('\n')[0]}`;
      if (/Excessive alias count/.test(ls.stderr)) tally.defect('D5', what);
      else tally.fail(what);
    }

    // New versions of some bad files are reported again; fixed ones lose their report.
    tally.startTrial();
    // Only files reported exactly once so far (one never reported is already counted above).
    const once = await reportsOf();
    const reportedOnce = toReport.filter((i) => i.bytes.length < 100_000 && once.get(rel(i)) === 1);
    const rewrite = reportedOnce.slice(0, 50);
    const fix = reportedOnce.filter((i) => i.name.startsWith('s5-') && !rewrite.includes(i)).slice(0, 50);
    for (const i of rewrite) {
      i.bytes = Buffer.from(`---\nid: ${i.name}\nstate: [still broken\n---\nsecond version\n`);
      i.badVersions = 2;
      await writeFile(pathOf(i), i.bytes);
    }
    for (const i of fix) {
      i.bytes = validTask(i.name.slice(0, -3), i.agent, 'Fixed by hand.\n');
      i.expect = 'keep';
      i.badVersions = 1;
      await writeFile(pathOf(i), i.bytes);
    }
    const before = await reportsOf();
    // Wait until every new version is reported, or until 5 passes and 5 s have gone by (a file is
    // judged once it stayed unchanged for SETTLE_MS between two passes).
    const p0 = (await daemon.status())?.passes ?? 0;
    const t0 = Date.now();
    await waitFor(
      'the new versions to be reported',
      async () => {
        const now = await reportsOf();
        if (rewrite.every((i) => (now.get(rel(i)) ?? 0) >= 2)) return true;
        return ((await daemon?.status())?.passes ?? 0) >= p0 + 5 && Date.now() - t0 > 5_000;
      },
      120_000,
      200,
    ).catch((err: Error) => tally.fail(err.message));
    const afterRewrite = await reportsOf();
    let twice = 0;
    for (const i of rewrite) if ((afterRewrite.get(rel(i)) ?? 0) - (before.get(rel(i)) ?? 0) === 1) twice++;
    tally.check(
      twice === rewrite.length,
      () =>
        `${rewrite.length - twice} of ${rewrite.length} changed bad files were not reported exactly once more`,
    );
    const sidecarsLeft = (
      await Promise.all(
        fix.map((i) =>
          readFile(`${pathOf(i)}.error.txt`).then(
            () => 1,
            () => 0,
          ),
        ),
      )
    ).reduce((a: number, b: number) => a + b, 0);
    tally.check(
      sidecarsLeft === 0,
      () => `${sidecarsLeft} of ${fix.length} fixed files still have their error sidecar`,
    );

    // A restart must not report anything again.
    tally.startTrial();
    const beforeRestart = await reportsOf();
    const stopped = await daemon.stop();
    tally.check(stopped.code === 0, () => `the daemon did not stop cleanly: ${daemon?.output().slice(-800)}`);
    daemon = await DaemonProc.start(root, ['--rescan', '2s']);
    await daemon.passes(2, 120_000).catch((err: Error) => tally.fail(err.message));
    const afterRestart = await reportsOf();
    let again = 0;
    for (const [p, n] of afterRestart) if (n !== (beforeRestart.get(p) ?? 0)) again++;
    tally.check(again === 0, () => `${again} files were reported again after a restart`);
    // And it still works: a finished task in an outbox goes home.
    const homeId = 's5-still-works';
    await mkdir(join(root, 'agents/h00/outbox'), { recursive: true });
    await writeFile(
      join(root, 'agents/h00/outbox', `${homeId}.md`),
      taskText({ id: homeId, from: 'dispatch', to: 'h00', state: 'done' }, 'Done after the flood.\n'),
    );
    await waitFor(
      'a routing after the flood',
      async () => (await readdir(join(root, 'agents/dispatch/inbox'))).includes(`${homeId}.md`),
      60_000,
      200,
    ).catch((err: Error) => tally.fail(`the daemon no longer routes: ${err.message}`));
    await judge('after the restart');
    tally.check(daemon.alive, () => 'the daemon died');
    const counts = [...kinds].map(([k, v]) => `${k} ${v.n}`).join(', ');
    tally.facts.push(
      `${inputs.length} files (${counts})`,
      `written in ${(writeMs / 1000).toFixed(1)}s, all judged ${(settleMs / 1000).toFixed(1)}s later; doctor listed ${listed} duplicated ids`,
      `${rewrite.length} bad files changed again, ${fix.length} fixed, 1 restart`,
    );
    keep = tally.failures > 0;
  } catch (err) {
    keep = true;
    tally.fail(`${(err as Error).stack ?? String(err)}`);
  } finally {
    await daemon?.kill().catch(() => {});
    if (keep) opts.log(`  S5: folders kept for inspection: ${tmp.dir}`);
    else await tmp.cleanup();
  }
  return tally.figure(Date.now() - started);
}
