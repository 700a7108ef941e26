// S6: attacks. Each case is one trial, and each must be refused (nothing outside the mailroom is
// read, written or removed; nothing a far host does not own is taken), logged (an error message, an
// event, a report or a scan problem a person can see), and is tested here. A canary folder beside
// the mailroom, full of files, must hold exactly the same bytes at the end of every case.
//
//   traversal   path traversal in ids and names, on the command line and inside task files
//   symlinks    links to outside the root: a task file, a box folder and an agent folder on the hub;
//               a task file, a box folder and an agent folder on the far side; a link inside a
//               result folder
//   ownership   a far host writing into the folders of agents it does not own, lying directory
//               listings (names with `..` and `/`), and a YAML bomb in a far file
//   host keys   unknown, changed and revoked host keys (real sshd), with `mailroom sync`
//   notify      shell metacharacters in titles reaching the `notify` command of a real daemon
//   provenance  far tasks in the human's name (failed + retryable, running, done) are quarantined:
//               never on the hub, never routed, kept on the host; a far edit of from/to on a hub task
//               is set back (docs/spec.md §6)
//   sizes       a 5 GB sparse far file beside a good task: skipped by name, the task comes through
//   terminal    escape sequences in a title never reach `ls` output raw

import { mkdir, open, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Endpoint } from '../../src/endpoint/endpoint.js';
import { localEndpoint } from '../../src/endpoint/local.js';
import { openMailroom } from '../../src/mailroom.js';
import { mapLimit } from '../../src/store/scan.js';
import { syncHost } from '../../src/sync/pass.js';
import type { Sshd } from '../../test/support/sshd-core.js';
import type { Rng } from '../rng.js';
import {
  DaemonProc,
  type DefectId,
  type Figure,
  makeRoot,
  readEvents,
  runCli,
  Tally,
  taskFiles,
  taskText,
  tempDir,
  treeHashes,
  waitFor,
} from '../support.js';

export interface S6Options {
  rng: Rng;
  sshd?: Sshd;
  /** Hostile titles sent through notify. */
  titles: number;
  /** At most this many of the traversal commands (a random sample; default all). */
  cliCommands?: number;
  /** 'local': every case but the host keys; 'ssh': the host keys only (needs sshd); default both. */
  cases?: 'all' | 'local' | 'ssh';
  log: (line: string) => void;
  verbose?: boolean;
  tolerate?: ReadonlySet<DefectId>;
}

interface Ctx {
  dir: string;
  hub: string;
  far: string;
  canary: string;
}

const BOMB =
  'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]';

export async function runS6(opts: S6Options): Promise<Figure> {
  const started = Date.now();
  const tally = new Tally('S6', 'security', opts.log, opts.tolerate);
  // [name, run, the known defect that breaks it (its problems are attributed to it)]
  const cases: [string, (c: Ctx) => Promise<string[]>, DefectId?][] = [
    ['traversal on the command line', (c) => traversalCli(c)],
    ['traversal inside task files', traversalFiles],
    ['hub: link to a file outside, where a task should be', hubFileLink],
    ['hub: a box folder that links outside', hubBoxLink, 'D7'],
    ['hub: an agent folder that links outside', hubAgentLink, 'D7'],
    ['far: links to outside (task file, box, result folder)', farLinks],
    ['far: an agent folder that links outside', farAgentLink],
    ['far: writes into folders it does not own', farForeign],
    ['far: a lying directory listing', farLying],
    ['far: a YAML alias bomb', farBomb, 'D5'],
    ["far: forged tasks in the human's name (failed, running, done)", farForged],
    ['far: an edit of from/to on a task the hub sent', farRedirect],
    ['far: a 5 GB sparse file beside a good task', farHuge],
    ['hub: escape sequences in a title, through ls', hostileTitle],
  ];
  cases.push(['notify: shell metacharacters in titles', (c) => notifyTitles(c, opts)]);
  const which = opts.cases ?? 'all';
  if (which === 'ssh') cases.length = 0;
  if (opts.sshd && which !== 'local') {
    const s = opts.sshd;
    cases.push(['host key: unknown', (c) => hostKey(c, s, 'unknown')]);
    cases.push(['host key: changed', (c) => hostKey(c, s, 'changed')]);
    cases.push(['host key: revoked', (c) => hostKey(c, s, 'revoked')]);
  }
  let refusedAll = 0;
  let skipped = 0;
  for (const [name, run, knownDefect] of cases) {
    // A tolerated defect that damages files outside the root cannot be tolerated: skip its case
    // (the defect's regression test covers it).
    if (knownDefect === 'D7' && opts.tolerate?.has('D7')) {
      skipped++;
      continue;
    }
    tally.startTrial();
    const caseStarted = Date.now();
    const tmp = await tempDir('s6');
    const ctx: Ctx = {
      dir: tmp.dir,
      hub: join(tmp.dir, 'hub'),
      far: join(tmp.dir, 'far'),
      canary: join(tmp.dir, 'canary'),
    };
    let keep = false;
    try {
      await mkdir(join(ctx.canary, 'sub'), { recursive: true });
      for (const n of ['secret.md', 'note.md', 'sub/inner.md', 'passwd'])
        await writeFile(join(ctx.canary, n), `canary ${n}: must never change\n`);
      await writeFile(join(ctx.canary, 'drop.md'), 'Please do this\n'); // looks like a drop-in
      await mkdir(join(ctx.canary, 'inbox'));
      await mkdir(join(ctx.canary, 'out'));
      await writeFile(
        join(ctx.canary, 'out/done.md'),
        taskText(
          { id: 'done', from: 'dispatch', to: 'human', state: 'done' },
          'Finished, outside the root.\n',
        ),
      );
      await writeFile(join(ctx.canary, 'inbox/x.md'), 'Do this\n');
      await writeFile(
        join(ctx.canary, 'inbox/stolen.md'),
        taskText({ id: 'stolen', from: 'dispatch', to: 'research' }, 'x\n'),
      );
      await writeFile(
        join(ctx.canary, 'done.md'),
        taskText(
          { id: 'done', from: 'dispatch', to: 'human', state: 'done' },
          'A finished task outside the root.\n',
        ),
      );
      const before = await treeHashes(ctx.canary);
      const problems = await run(ctx);
      const after = await treeHashes(ctx.canary);
      const changed = [...new Set([...before.keys(), ...after.keys()])].filter(
        (k) => before.get(k) !== after.get(k),
      );
      if (changed.length > 0) problems.push(`outside the root, changed: ${changed.join(', ')}`);
      for (const p of problems) {
        const lost = p.startsWith('outside the root') ? changed.length : 0;
        const defect = knownDefect ?? (/no sync\.failed event/.test(p) ? 'D8' : undefined);
        if (defect) tally.defect(defect, `${name}: ${p}`, lost);
        else tally.fail(`${name}: ${p}`, lost);
      }
      if (problems.length === 0) refusedAll++;
      else keep = true;
      if (opts.verbose)
        opts.log(
          `  S6 ${name}: ${problems.length === 0 ? 'refused and logged' : `${problems.length} problem(s)`} (${((Date.now() - caseStarted) / 1000).toFixed(1)}s)`,
        );
    } catch (err) {
      keep = true;
      tally.fail(`${name}: ${(err as Error).stack ?? String(err)}`);
    } finally {
      if (keep) opts.log(`  S6: folders kept for inspection: ${tmp.dir}`);
      else await tmp.cleanup();
    }
  }
  tally.facts.push(
    `${cases.length - skipped} attack cases, ${refusedAll} refused and logged${skipped ? ` (${skipped} skipped: known defect D7)` : ''}; ${opts.titles} hostile titles through notify`,
  );
  return tally.figure(Date.now() - started);
}

// ------------------------------------------------------------------------------------------------

const HUB_CONFIG = (far: string) =>
  `agents:\n  dispatch: {}\n  human: {}\n  research: { host: vps }\nhosts:\n  vps: { ssh: deploy@203.0.113.7, root: ${far} }\n`;

async function twoRoots(c: Ctx): Promise<void> {
  await makeRoot(c.hub, HUB_CONFIG(c.far), ['dispatch', 'human', 'research']);
  await makeRoot(c.far, 'agents:\n  human: {}\n  research: {}\n', ['research']);
}

const sync = async (c: Ctx, remote?: Endpoint) =>
  syncHost(await openMailroom(c.hub), 'vps', { remote: remote ?? localEndpoint(c.far) });

/** A daemon pass (the real function), with a fresh report book. */
async function daemonPass(root: string) {
  const { runPass, SETTLE_MS } = await import('../../daemon/pass.js');
  const { ReportBook } = await import('../../daemon/reports.js');
  const mr = await openMailroom(root);
  const reports = new ReportBook(mr);
  const state = { reports, known: new Map() };
  // Files are judged only once they have stayed unchanged between passes for SETTLE_MS.
  const first = await runPass(mr, state);
  await new Promise((r) => setTimeout(r, SETTLE_MS + 100));
  const second = await runPass(mr, state);
  return { out: { ...second, problems: [...first.problems, ...second.problems] }, reports };
}

async function traversalCli(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await makeRoot(c.hub, 'agents:\n  dispatch: {}\n  human: {}\n', ['dispatch', 'human']);
  const id = (await runCli(['send', 'human', 'a task', '--root', c.hub])).stdout.trim();
  const evil = ['../canary/secret', '/etc/passwd', '..', 'a/../../b', `${id}/../../x`, '.hidden'];
  const attempts: string[][] = [];
  for (const e of evil) {
    attempts.push(['show', e], ['ack', e], ['progress', e, 'note'], ['done', e], ['archive', e]);
    attempts.push(
      ['send', e, 'title'],
      ['agent', 'add', e],
      ['reassign', id, e],
      ['send', 'human', 'x', '--as', e],
    );
  }
  attempts.push(['host', 'add', '../x', 'deploy@h', '--root', '/srv'], ['sync', '../x']);
  const results = await mapLimit(attempts, 8, async (args) => ({
    args,
    r: await runCli([...args, '--root', c.hub]),
  }));
  for (const { args, r } of results) {
    // `log --task` only filters the event log: no path is built from it, so no output is fine too.
    const ok =
      args[0] === 'log'
        ? r.code === 0 && r.stdout === ''
        : (r.code === 1 || r.code === 2 || r.code === 3) && r.stderr.trim() !== '';
    if (!ok)
      problems.push(
        `mailroom ${args.join(' ')}: exit ${r.code}, said "${(r.stderr || r.stdout).trim().slice(0, 100)}"`,
      );
    if (/at .*\.js:\d+/.test(r.stderr)) problems.push(`mailroom ${args.join(' ')}: printed a stack trace`);
  }
  return problems;
}

async function traversalFiles(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await makeRoot(c.hub, 'agents:\n  dispatch: {}\n  human: {}\n', ['dispatch', 'human']);
  const inbox = join(c.hub, 'agents/human/inbox');
  const outbox = join(c.hub, 'agents/human/outbox');
  const files: [string, string][] = [
    [join(inbox, 'a.md'), taskText({ id: 'a', from: 'dispatch', to: '../../canary' as 'human' }, 'x\n')],
    [join(inbox, 'b.md'), taskText({ id: '../canary/secret' as 'b', from: 'dispatch', to: 'human' }, 'x\n')],
    [
      join(outbox, 'c.md'),
      taskText({ id: 'c', from: '../../canary' as 'dispatch', to: 'human', state: 'done' }, 'x\n'),
    ],
    [join(outbox, 'd.md'), taskText({ id: 'd', from: 'nobody', to: 'human', state: 'done' }, 'x\n')],
    [join(inbox, 'e.md'), '---\ntitle: drop with a hostile from\nfrom: ../../canary\n---\nbody\n'],
  ];
  for (const [p, t] of files) await writeFile(p, t);
  const { out } = await daemonPass(c.hub);
  const events = await readEvents(c.hub);
  for (const name of ['a.md', 'b.md', 'c.md']) {
    if (!events.some((e) => e.type === 'task.unreadable' && String(e.path).endsWith(`/${name}`)))
      problems.push(`${name} (a traversal in a field) was not reported as unreadable`);
  }
  if (!out.problems.some((p) => p.path.endsWith('d.md') && /not a configured agent/.test(p.reason)))
    problems.push('d.md (from an unknown agent) was not reported as unroutable');
  // The drop-in with a hostile `from` is completed with from: human, or reported; never routed outside.
  const copies = await taskFiles(c.hub);
  if (!copies.some((x) => x.id === 'e' || x.rel.endsWith('/e.md'))) problems.push('e.md disappeared');
  for (const x of copies)
    if (x.bytes.includes('../../canary') && x.id === 'e')
      problems.push('e.md kept a traversal in a completed task');
  return problems;
}

async function hubFileLink(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await makeRoot(c.hub, 'agents:\n  dispatch: {}\n  human: {}\n', ['dispatch', 'human']);
  await symlink(join(c.canary, 'done.md'), join(c.hub, 'agents/human/outbox/done.md'));
  await symlink(join(c.canary, 'drop.md'), join(c.hub, 'agents/human/inbox/drop.md'));
  await daemonPass(c.hub);
  const events = await readEvents(c.hub);
  for (const n of ['outbox/done.md', 'inbox/drop.md'])
    if (
      !events.some(
        (e) => e.type === 'task.unreadable' && String(e.path).endsWith(n) && /link/.test(String(e.reason)),
      )
    )
      problems.push(`the link ${n} was not reported`);
  const ls = await runCli(['ls', '--root', c.hub]);
  if (!/link/.test(ls.stderr)) problems.push('mailroom ls does not mention the link');
  const show = await runCli(['ack', 'drop', '--root', c.hub]);
  if (show.code === 0) problems.push('mailroom ack acted on a task file that is a link');
  return problems;
}

async function hubBoxLink(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await makeRoot(c.hub, 'agents:\n  dispatch: {}\n  human: {}\n', ['dispatch', 'human']);
  // human's inbox and dispatch's outbox are links to folders outside the root.
  await rm(join(c.hub, 'agents/human/inbox'), { recursive: true });
  await symlink(c.canary, join(c.hub, 'agents/human/inbox'));
  await rm(join(c.hub, 'agents/dispatch/outbox'), { recursive: true });
  await symlink(join(c.canary, 'out'), join(c.hub, 'agents/dispatch/outbox'));
  const send = await runCli(['send', 'human', 'into a linked inbox', '--root', c.hub]);
  if (send.code === 0)
    problems.push('mailroom send wrote a task through a linked box folder (outside the root)');
  const { out, reports } = await daemonPass(c.hub);
  const events = await readEvents(c.hub);
  const said =
    events.some((e) => /link/.test(String(e.reason ?? ''))) ||
    out.problems.some((p) => /link/.test(p.reason)) ||
    reports.open.size > 0;
  if (!said) problems.push('the daemon did not report the linked box folders');
  if (events.some((e) => e.type === 'task.completed' || e.type === 'task.routed'))
    problems.push('the daemon completed or routed a file through a linked box folder');
  return problems;
}

async function hubAgentLink(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await makeRoot(c.hub, 'agents:\n  dispatch: {}\n  human: {}\n  evil: {}\n', ['dispatch', 'human']);
  await symlink(c.canary, join(c.hub, 'agents/evil'));
  const send = await runCli(['send', 'evil', 'into a linked agent folder', '--root', c.hub]);
  if (send.code === 0)
    problems.push('mailroom send wrote a task through a linked agent folder (outside the root)');
  await daemonPass(c.hub);
  const events = await readEvents(c.hub);
  if (events.some((e) => e.type === 'task.completed'))
    problems.push('the daemon completed a file through a linked agent folder');
  return problems;
}

async function farLinks(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await twoRoots(c);
  const id = 'far-link';
  await writeFile(
    join(c.far, 'agents/research/inbox/real.md'),
    taskText({ id: 'real', from: 'research', to: 'research' }, 'x\n'),
  );
  await symlink(join(c.canary, 'secret.md'), join(c.far, `agents/research/inbox/${id}.md`));
  await rm(join(c.far, 'agents/research/outbox'), { recursive: true });
  await symlink(c.canary, join(c.far, 'agents/research/outbox'));
  await mkdir(join(c.far, 'agents/research/inbox/real.files'), { recursive: true });
  await symlink(join(c.canary, 'passwd'), join(c.far, 'agents/research/inbox/real.files/passwd'));
  // And on the hub: a link where a task should be, which must not be pushed.
  await symlink(join(c.canary, 'note.md'), join(c.hub, 'agents/research/inbox/hub-link.md'));
  const r = await sync(c);
  const paths = r.scanProblems.map((p) => `${p.side}:${p.path}`);
  for (const want of [
    `remote:agents/research/inbox/${id}.md`,
    'remote:agents/research/outbox',
    'remote:agents/research/inbox/real.files/passwd',
    'local:agents/research/inbox/hub-link.md',
  ])
    if (!paths.some((p) => p === want))
      problems.push(`${want} (a link) was not reported (reported: ${paths.join(', ')})`);
  const hub = await readdir(join(c.hub, 'agents/research/inbox'));
  if (hub.includes(`${id}.md`)) problems.push('a far link was pulled');
  if (
    await readFile(join(c.hub, 'agents/research/inbox/real.files/passwd')).then(
      () => true,
      () => false,
    )
  )
    problems.push('a link inside a result folder was pulled');
  if ((await readdir(join(c.far, 'agents/research/inbox'))).includes('hub-link.md'))
    problems.push('a hub link was pushed');
  if (!hub.includes('real.md')) problems.push('the real task beside the links was not pulled');
  return problems;
}

async function farAgentLink(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await twoRoots(c);
  await rm(join(c.far, 'agents/research'), { recursive: true });
  await symlink(c.canary, join(c.far, 'agents/research'));
  await writeFile(
    join(c.hub, 'agents/research/inbox/push-me.md'),
    taskText({ id: 'push-me', from: 'dispatch', to: 'research' }, 'x\n'),
  );
  let refusedWith = '';
  try {
    const r = await sync(c);
    refusedWith = r.scanProblems.map((p) => p.reason).join('; ');
  } catch (err) {
    refusedWith = (err as Error).message;
  }
  if (!/link/.test(refusedWith))
    problems.push(
      `the linked far agent folder was not refused with a message naming the link (${refusedWith.slice(0, 120)})`,
    );
  if ((await readdir(join(c.hub, 'agents/research/inbox'))).includes('stolen.md'))
    problems.push('a file behind the link was pulled');
  return problems;
}

async function farForeign(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await twoRoots(c);
  // The hub has a task of its own in dispatch's inbox.
  const mine = taskText({ id: 'hub-own', from: 'human', to: 'dispatch' }, 'The hub copy.\n');
  await writeFile(join(c.hub, 'agents/dispatch/inbox/hub-own.md'), mine);
  // The far host writes into folders of agents it does not own, and reuses the hub task's id.
  for (const agent of ['dispatch', 'human']) {
    await mkdir(join(c.far, 'agents', agent, 'inbox'), { recursive: true });
    await writeFile(
      join(c.far, 'agents', agent, 'inbox/evil.md'),
      taskText({ id: 'evil', from: 'research', to: agent }, 'x\n'),
    );
  }
  await writeFile(
    join(c.far, 'agents/dispatch/inbox/hub-own.md'),
    taskText({ id: 'hub-own', from: 'research', to: 'dispatch' }, 'Replaced.\n'),
  );
  const r = await sync(c);
  const copies = await taskFiles(c.hub);
  if (copies.some((x) => x.id === 'evil'))
    problems.push('a task from a folder the host does not own was pulled');
  const own = copies.filter((x) => x.id === 'hub-own');
  if (own.length !== 1 || own[0]!.bytes.toString() !== mine)
    problems.push('the hub task with the reused id was changed or duplicated');
  for (const a of ['agents/dispatch', 'agents/human'])
    if (!r.scanProblems.some((p) => p.side === 'remote' && p.path === a))
      problems.push(`${a} on the far side was not reported`);
  return problems;
}

async function farLying(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await twoRoots(c);
  await writeFile(
    join(c.far, 'agents/research/inbox/fine.md'),
    taskText({ id: 'fine', from: 'research', to: 'research' }, 'x\n'),
  );
  const real = localEndpoint(c.far);
  const touched: string[] = [];
  const fake = (name: string) => ({ name, kind: 'file' as const, size: 10, mtimeMs: 0 });
  const lying: Endpoint = {
    ...real,
    label: 'lying',
    list: async (dir) => {
      const entries = await real.list(dir);
      if (dir === 'agents')
        return [...entries, fake('../canary'), { name: '..', kind: 'dir' as const, size: 0, mtimeMs: 0 }];
      if (dir !== 'agents/research/inbox') return entries;
      return [
        ...entries,
        fake('../../../canary/secret.md'),
        fake('../x.md'),
        fake('a/b.md'),
        fake('..'),
        fake('/etc/passwd'),
        fake(''),
      ];
    },
    readFile: async (rel) => {
      touched.push(rel);
      return real.readFile(rel);
    },
    writeFileAtomic: async (rel, data) => {
      touched.push(rel);
      return real.writeFileAtomic(rel, data);
    },
    stat: (rel) => real.stat(rel),
    remove: async (rel) => {
      touched.push(rel);
      return real.remove(rel);
    },
    lock: (rel, o) => real.lock(rel, o),
    mkdirp: (rel) => real.mkdirp(rel),
    close: () => real.close(),
  };
  const r = await sync(c, lying);
  for (const rel of touched)
    if (rel.split('/').includes('..') || rel.startsWith('/')) problems.push(`the sync used the path ${rel}`);
  if (r.scanProblems.filter((p) => /impossible/.test(p.reason)).length < 4)
    problems.push('the impossible names were not reported');
  if (!(await readdir(join(c.hub, 'agents/research/inbox'))).includes('fine.md'))
    problems.push('the good task beside them was not pulled');
  return problems;
}

async function farBomb(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await twoRoots(c);
  await writeFile(
    join(c.far, 'agents/research/inbox/fine.md'),
    taskText({ id: 'fine', from: 'research', to: 'research' }, 'x\n'),
  );
  await writeFile(join(c.far, 'agents/research/inbox/bomb.md'), `---\n${BOMB}\nid: bomb\n---\n`);
  try {
    await sync(c);
  } catch (err) {
    problems.push(`one far file with a YAML alias bomb fails the whole pass: ${(err as Error).message}`);
  }
  if (!(await readdir(join(c.hub, 'agents/research/inbox'))).includes('fine.md'))
    problems.push('the good task beside the bomb was not pulled');
  return problems;
}

async function hostKey(c: Ctx, s: Sshd, kind: 'unknown' | 'changed' | 'revoked'): Promise<string[]> {
  const problems: string[] = [];
  const far = join(s.dir, `s6-far-${kind}`);
  await makeRoot(far, 'agents:\n  human: {}\n  research: {}\n', ['research']);
  await writeFile(
    join(far, 'agents/research/inbox/far-task.md'),
    taskText({ id: 'far-task', from: 'dispatch', to: 'research' }, 'x\n'),
  );
  const knownHosts = join(c.dir, 'known_hosts');
  const other = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
  const name = `[127.0.0.1]:${s.port}`;
  const text =
    kind === 'unknown'
      ? ''
      : kind === 'changed'
        ? `${name} ssh-ed25519 ${other}\n`
        : `@revoked ${name} ${s.hostPublicKey}\n${name} ${s.hostPublicKey}\n`;
  await writeFile(knownHosts, text);
  await makeRoot(
    c.hub,
    `agents:\n  dispatch: {}\n  human: {}\n  research: { host: vps }\nhosts:\n  vps:\n    ssh: ${s.user}@127.0.0.1:${s.port}\n    root: ${far}\n    identity: ${s.clientKeyPath}\n    known_hosts: ${knownHosts}\n`,
    ['dispatch', 'human', 'research'],
  );
  const r = await runCli(['sync', '--root', c.hub], { env: { SSH_AUTH_SOCK: '' } });
  if (r.code === 0) problems.push(`mailroom sync succeeded with a ${kind} host key`);
  else if (r.code !== 3) problems.push(`mailroom sync exited ${r.code} (expected 3, refused)`);
  const says = {
    unknown: /ssh-keyscan/,
    changed: /changed|CHANGED|man-in-the-middle|does not match/i,
    revoked: /revoked/i,
  }[kind];
  if (!says.test(r.stderr))
    problems.push(`the message does not say what happened: ${r.stderr.trim().slice(0, 160)}`);
  if ((await taskFiles(c.hub)).some((x) => x.id === 'far-task'))
    problems.push('a file was pulled from an untrusted host');
  const status = await runCli(['status', '--json', '--root', c.hub]);
  if (!status.stdout.includes('host key') && !/known_hosts|ssh-keyscan|revoked|changed/i.test(status.stdout))
    problems.push("mailroom status does not show the refusal as the host's last error");
  if (!(await readEvents(c.hub)).some((e) => e.type === 'sync.failed'))
    problems.push('the refusal is not in the event log (mailroom log): no sync.failed event');
  await rm(far, { recursive: true, force: true });
  return problems;
}

const HOSTILE = [
  '$(touch CANARY)',
  '`touch CANARY`',
  '; touch CANARY',
  '| touch CANARY',
  '&& touch CANARY',
  "' ; touch CANARY ; '",
  '" ; touch CANARY ; "',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, on purpose
  '${IFS}touch${IFS}CANARY',
  '$HOME $PATH $0 $$ $1',
  '* ? [a-z] ~',
  '\\ \\\\ \\n',
  '> CANARY',
  '< /etc/passwd',
  '%s %n %x',
  '-e touch CANARY',
  '\u202e reversed \u200b zero width',
  'line one\nline two; touch CANARY',
  'ünïcödé ✓ 🚀',
];

async function notifyTitles(c: Ctx, opts: S6Options): Promise<string[]> {
  const problems: string[] = [];
  const notify = `printf '%s' "$MAILROOM_TITLE" > "$MAILROOM_ROOT/notified/$MAILROOM_ID"`;
  await makeRoot(
    c.hub,
    `agents:\n  dispatch: {}\n  human: {}\n  lonely: {}\nescalate_to: human\nnotify: '${notify.replace(/'/g, "''")}'\nnotify_interval: 0s\n`,
    ['dispatch', 'human', 'lonely'],
  );
  await mkdir(join(c.hub, 'notified'));
  const r = opts.rng.fork('titles');
  const titles = new Map<string, string>();
  for (let i = 0; i < opts.titles; i++) {
    const parts = Array.from({ length: r.range(1, 3) }, () => r.pick(HOSTILE));
    let title = parts.join(' ').replaceAll('CANARY', join(c.canary, `pwned-${i}`));
    if (i === 0) title = `${'x'.repeat(20_000)} long`; // longer than one environment value may be
    const id = `s6-notify-${i}`;
    titles.set(id, title);
    const past = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
    await writeFile(
      join(c.hub, 'agents/lonely/inbox', `${id}.md`),
      taskText(
        {
          id,
          from: 'dispatch',
          to: 'lonely',
          title,
          ack_timeout: '1s',
          created: `${past}Z`,
          history: [{ state: 'queued', at: `${past}Z`, by: 'dispatch' }],
        },
        'x\n',
      ),
    );
  }
  const covered = async () => new Set((await readdir(join(c.hub, 'notified'))).flatMap((n) => n.split(' ')));
  const sentEvents = async () =>
    new Set(
      (await readEvents(c.hub)).flatMap((e) => (e.type === 'notify.sent' ? String(e.id).split(' ') : [])),
    );
  const daemon = await DaemonProc.start(c.hub, ['--rescan', '1s']);
  try {
    // Notices run out of the daemon's pass (notify-queue.ts): the event is logged once the command
    // ended, so wait for the events too, not only for the files the commands wrote.
    // Escalations that arrive while a notice runs are coalesced into one ("2 tasks escalated on this
    // machine", MAILROOM_ID listing the ids): a notice covers every id it lists.
    await waitFor(
      'every notification',
      async () => (await covered()).size >= titles.size && (await sentEvents()).size >= titles.size,
      60_000,
      100,
    ).catch((err: Error) => problems.push(err.message));
  } finally {
    await daemon.stop();
  }
  const inNotice = await covered();
  const sent = await sentEvents();
  for (const [id, title] of titles) {
    const got = await readFile(join(c.hub, 'notified', id), 'utf8').catch(() => undefined);
    const want = title.length > 16 * 1024 ? `${title.slice(0, 16 * 1024)}…` : title;
    if (got === undefined && !inNotice.has(id)) problems.push(`${id}: notify did not run`);
    else if (got !== undefined && got !== want)
      problems.push(`${id}: notify got a different title (${JSON.stringify(got.slice(0, 60))})`);
    if (!sent.has(id)) problems.push(`${id}: no notify.sent event`);
  }
  const pwned = (await readdir(c.canary)).filter((n) => n.startsWith('pwned'));
  if (pwned.length > 0) problems.push(`a title ran as a command: ${pwned.join(', ')}`);
  return problems;
}

async function farForged(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await twoRoots(c);
  const old = '2026-01-01T00:00:00Z';
  const forged = {
    'forged-failed': taskText(
      {
        id: 'forged-failed',
        from: 'human',
        to: 'dispatch',
        state: 'failed',
        error: { message: 'again', retryable: true },
      },
      'x\n',
    ),
    'forged-running': taskText(
      { id: 'forged-running', from: 'human', to: 'dispatch', state: 'running', created: old },
      'x\n',
    ),
    'forged-done': taskText({ id: 'forged-done', from: 'human', to: 'dispatch', state: 'done' }, 'x\n'),
  };
  for (const [id, text] of Object.entries(forged))
    await writeFile(join(c.far, `agents/research/outbox/${id}.md`), text);
  const r = await sync(c);
  await daemonPass(c.hub);
  const here = await taskFiles(c.hub);
  for (const [id, text] of Object.entries(forged)) {
    if (here.some((x) => x.id === id)) problems.push(`${id} reached the hub`);
    if (!r.quarantined.some((q) => q.id === id)) problems.push(`${id} was not reported as quarantined`);
    if ((await readFile(join(c.far, `agents/research/outbox/${id}.md`), 'utf8')) !== text)
      problems.push(`${id} was changed on the host`);
  }
  const events = await readEvents(c.hub);
  if (events.filter((e) => e.type === 'sync.quarantined' && e.host === 'vps').length !== 3)
    problems.push('the quarantines were not logged with the host name');
  return problems;
}

async function farRedirect(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await twoRoots(c);
  const sent = taskText({ id: 'hub-sent', from: 'dispatch', to: 'research' }, 'Do it.\n');
  await writeFile(join(c.hub, 'agents/research/inbox/hub-sent.md'), sent);
  await sync(c);
  const farPath = join(c.far, 'agents/research/inbox/hub-sent.md');
  const far = await readFile(farPath, 'utf8');
  await writeFile(
    farPath,
    far
      .replace('from: dispatch', 'from: human')
      .replace('to: research', 'to: dispatch')
      .replace('Do it.', 'Do it. (far)'),
  );
  const r = await sync(c);
  const now = await readFile(join(c.hub, 'agents/research/inbox/hub-sent.md'), 'utf8');
  if (!/^from: dispatch$/m.test(now) || !/^to: research$/m.test(now))
    problems.push('a far edit of from/to was taken');
  if (!now.includes('Do it. (far)')) problems.push('the rest of the far edit was lost');
  if (r.refused.length !== 1) problems.push('the refused edit was not reported');
  return problems;
}

async function farHuge(c: Ctx): Promise<string[]> {
  const problems: string[] = [];
  await twoRoots(c);
  const sent = taskText({ id: 'beside', from: 'dispatch', to: 'research' }, 'x\n');
  await writeFile(join(c.hub, 'agents/research/inbox/beside.md'), sent);
  await sync(c);
  const dir = join(c.far, 'agents/research/inbox/beside.files');
  await mkdir(dir, { recursive: true });
  const fh = await open(join(dir, 'blob'), 'w');
  await fh.truncate(5 * 1024 ** 3);
  await fh.close();
  await writeFile(
    join(c.far, 'agents/research/inbox/beside.md'),
    taskText({ id: 'beside', from: 'dispatch', to: 'research' }, 'x\nedited far\n'),
  );
  const r = await sync(c);
  if (!r.partial) problems.push('the pass did not say it was partial');
  if (!r.scanProblems.some((p) => p.path === 'agents/research/inbox/beside.files/blob'))
    problems.push('the big file was not reported by name');
  if (!(await readFile(join(c.hub, 'agents/research/inbox/beside.md'), 'utf8')).includes('edited far'))
    problems.push('the good task beside it did not come through');
  return problems;
}

async function hostileTitle(c: Ctx): Promise<string[]> {
  await makeRoot(c.hub, 'agents:\n  dispatch: {}\n  human: {}\n  research: {}\n', [
    'dispatch',
    'human',
    'research',
  ]);
  const title = 'ok\u001b]52;c;ZXZpbA==\u0007\u001b[2A\u202eforged\nrow';
  await writeFile(
    join(c.hub, 'agents/research/inbox/hostile.md'),
    taskText({ id: 'hostile', from: 'dispatch', to: 'research', title }, 'x\n'),
  );
  const r = await runCli(['ls', '--root', c.hub]);
  const out = r.stdout + r.stderr;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for raw control bytes on purpose
  return /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/.test(out)
    ? ['ls printed raw control characters']
    : [];
}
