#!/usr/bin/env node
// The `mailroom` command line (docs/spec.md §4). This file only wires commands to handlers, which are
// imported when their command runs, so a quick verb does not load what another verb needs.

import { Command, CommanderError, Option } from '@commander-js/extra-typings';
import type { CommonOptions } from './context.js';
import { endQuietlyOnClosedPipe, exitWhenWritten, reportError } from './output.js';

const newProgram = () =>
  new Command('mailroom')
    .description('A file-based, crash-safe task inbox for AI agents and the humans who supervise them')
    .version('0.1.0')
    .enablePositionalOptions()
    .option(
      '--root <dir>',
      'the mailroom folder (else $MAILROOM_ROOT, else the nearest folder upwards with mailroom.yaml)',
    )
    .option('--debug', 'show stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

let program = newProgram();

let exitCode = 0;

/** Adds the options every command takes, and merges them with the program-level ones. */
// biome-ignore lint/suspicious/noExplicitAny: any Command shape; the options added here are read back as CommonOptions
function common<T extends Command<any[], any, any>>(
  cmd: T,
  what: { as?: boolean; json?: boolean; root?: boolean } = {},
): T {
  if (what.root !== false) cmd.option('--root <dir>', 'the mailroom folder');
  if (what.as) cmd.option('--as <agent>', 'act as this agent (else $MAILROOM_AGENT)');
  if (what.json !== false) cmd.option('--json', 'machine-readable output (schemaVersion 1)');
  cmd.option('--debug', 'show stack traces on errors');
  cmd.exitOverride();
  return cmd;
}

function opts<O extends object>(cmdOpts: O): O & CommonOptions {
  const global = program.opts();
  return {
    ...cmdOpts,
    root: (cmdOpts as CommonOptions).root ?? global.root,
    debug: (cmdOpts as CommonOptions).debug ?? global.debug,
  } as O & CommonOptions;
}

// Handlers, imported when their command runs.
const tasks = () => import('./commands/tasks.js');
const read = () => import('./commands/read.js');
const admin = () => import('./commands/admin.js');

/**
 * Every command's definition, on `program` (which may stand in an absent command for all but one),
 * in the order help lists them.
 */
function defineCommands(): void {
  defineSetup();
  defineTaskVerbs();
  defineWorkerVerbs();
  defineReadAndRun();
  defineAgentVerbs();
  defineService();
}

/** init, agent, host. */
function defineSetup(): void {
  common(
    program
      .command('init')
      .argument('[dir]', 'folder to create (default: current folder)')
      .description('create a new mailroom with agents dispatch and human'),
  ).action(async (dir, o) => (await admin()).init(dir, opts(o)));

  const agent = program.command('agent').description('manage agents').exitOverride();
  common(
    agent
      .command('add')
      .argument('<name>')
      .option('--host <host>', 'the host it runs on (default: this machine)')
      .option('--role <role>', "agents sharing a role can take over each other's tasks")
      .description('add an agent'),
  ).action(async (name, o) => (await admin()).agentAdd(name, opts(o)));
  common(agent.command('ls').description('list agents')).action(async (o) =>
    (await admin()).agentLs(opts(o)),
  );
  common(
    agent
      .command('rm')
      .argument('<name>')
      .option('--force', 'hand its tasks to escalate_to first (else refused while it has tasks)')
      .description('remove an agent'),
  ).action(async (name, o) => (await admin()).agentRm(name, opts(o)));

  const host = program.command('host').description('manage machines reached over SSH').exitOverride();
  common(
    host
      .command('add')
      .argument('<name>')
      .argument('<target>', 'user@host[:port] or an alias from ~/.ssh/config')
      .requiredOption(
        '--root <path>',
        'the mailroom folder on that machine (this mailroom: give --root before "host")',
      )
      .option('--identity <file>', 'private key file (default: ssh-agent)')
      .option('--known-hosts <file>', 'known_hosts file (default: ~/.ssh/known_hosts)')
      .description('add a host'),
    { root: false },
  ).action(async (name, target, o) => {
    const { root: farRoot, ...rest } = o;
    await (await admin()).hostAdd(name, target, { ...opts(rest), root: program.opts().root, farRoot });
  });
  common(
    host
      .command('init')
      .argument('<name>')
      .option('--force', 'replace an existing mailroom.yaml there')
      .description("create the far side's folders and mailroom.yaml (its agents here, the others elsewhere)"),
  ).action(async (name, o) => (await admin()).hostInit(name, opts(o)));
  common(host.command('ls').description('list hosts')).action(async (o) => (await admin()).hostLs(opts(o)));
  common(
    host
      .command('rm')
      .argument('<name>')
      .option('--force', 'remove its agents too, handing their tasks to escalate_to')
      .description('remove a host (refused while agents live on it)'),
  ).action(async (name, o) => (await admin()).hostRm(name, opts(o)));
}

/** send, ls. */
function defineTaskVerbs(): void {
  common(
    program
      .command('send')
      .argument('<to>', 'the agent whose inbox gets the task')
      .argument('<title>')
      .argument('[stdin]', '- to read the body from standard input')
      .option('--body <text>', 'the task body (Markdown)')
      .option('--body-file <file>', 'read the body from a file')
      .addOption(new Option('--priority <p>', 'priority').choices(['urgent', 'high', 'normal', 'low']))
      .option('--ack-timeout <d>', 'how long the worker has to acknowledge (default 5m)')
      .option('--run-timeout <d>', 'how long it may run without progress (default 30m)')
      .option('--max-attempts <n>', 'attempts before escalation (default 3)')
      .description("write a new task into an agent's inbox; prints its id"),
    { as: true },
  ).action(async (to, title, dash, o) => (await tasks()).send(to, title, dash, opts(o)));

  common(
    program
      .command('ls')
      .option('--agent <agent>', "only this agent's boxes")
      .option(
        '--state <state...>',
        'only tasks in these states (repeat it or use commas: --state queued,acked)',
      )
      .option('--mine', 'open tasks addressed to the acting agent (--as), in the order to work them')
      .option('--box <box>', 'inbox, outbox or archive (default: inbox and outbox)')
      .description('list tasks, urgent first, then oldest first'),
    { as: true },
  ).action(async (o) => (await read()).ls(opts(o)));
}

/** show, and what a worker does with a task. */
function defineWorkerVerbs(): void {
  common(
    program.command('show').argument('<id>', 'task id or unique prefix').description('show one task'),
  ).action(async (id, o) => (await read()).show(id, opts(o)));

  for (const [name, verb, description] of [
    ['ack', 'ack', 'acknowledge a task: the worker has it'],
    ['start', 'start', 'start work on a task'],
    ['archive', 'archiveTask', 'file a finished task away'],
  ] as const) {
    common(program.command(name).argument('<id>', 'task id or unique prefix').description(description), {
      as: true,
    }).action(async (id, o) => {
      await (await tasks())[verb](id, opts(o));
    });
  }

  common(
    program
      .command('progress')
      .argument('<id>')
      .argument('[note]', 'what has been done so far (else piped standard input)')
      .description('append a progress note; renews the running lease'),
    { as: true },
  ).action(async (id, note, o) => (await tasks()).note(id, note, opts(o)));

  common(
    program
      .command('done')
      .argument('<id>')
      .argument('[stdin]', '- to read the result from standard input')
      .option('--result <text>', 'the result, appended under "## Result"')
      .option('--result-file <file>', 'read the result from a file')
      .description('finish a task; it moves to the outbox and is routed back to its sender'),
    { as: true },
  ).action(async (id, dash, o) => (await tasks()).done(id, dash, opts(o)));

  common(
    program
      .command('fail')
      .argument('<id>')
      .requiredOption('--error <msg>', 'what went wrong')
      .option('--retryable', 'trying again may work')
      .option('--tried <text>', 'what was tried')
      .description('fail a task with structured error context'),
    { as: true },
  ).action(async (id, o) => (await tasks()).fail(id, opts(o)));

  common(
    program
      .command('retry')
      .argument('<id>')
      .option('--to <agent>', 'retry on another agent')
      .description('queue a failed task again (attempt + 1)'),
    { as: true },
  ).action(async (id, o) => (await tasks()).retryTask(id, opts(o)));

  common(
    program
      .command('reassign')
      .argument('<id>')
      .argument('<agent>')
      .description('move an unfinished task to another agent'),
    { as: true },
  ).action(async (id, agentName, o) => (await tasks()).reassignTask(id, agentName, opts(o)));
}

/** log, doctor, and the commands that keep running. */
function defineReadAndRun(): void {
  common(
    program
      .command('log')
      .option('-n, --lines <n>', 'only the last N events')
      .option('--since <time>', 'only events since a time (2026-11-27T10:00:00Z) or a duration ago (2h)')
      .option(
        '--follow',
        'print new events as they come (from now; add --from-start, -n or --since for history)',
      )
      .option('--from-start', 'with --follow: print every kept event first')
      .option('--task <id>', 'only events of this task (any part of its id)')
      .description('the event log'),
  ).action(async (o) => (await read()).log(opts(o)));

  common(
    program
      .command('doctor')
      .option('--fix', 'remove stale locks and leftover temp files')
      .description('check configuration, locks, temp files and tasks'),
  ).action(async (o) => {
    exitCode = await (await read()).runDoctor(opts(o));
  });

  common(
    program
      .command('daemon')
      .option('--rescan <d>', 'full rescan at least this often (default 10s)')
      .option('--polling', 'poll for changes instead of native file events (network drives)')
      .option('--init', 'create the mailroom at --root first if there is none')
      .description('watch, route, supervise until stopped (SIGINT/SIGTERM stop it cleanly)'),
    { json: false },
  ).action(async (o) => (await import('./commands/daemon.js')).daemon(opts(o)));

  common(
    program
      .command('status')
      .option('--watch', 'keep the view live')
      .option('--check', 'exit 1 when something needs a person (for monitoring)')
      .description('the global picture: agents, what needs a person, daemon, hosts'),
  ).action(async (o) => {
    exitCode = await (await import('./commands/daemon.js')).status(opts(o));
  });

  common(
    program
      .command('board')
      .option('--port <n>', 'the port on 127.0.0.1 (default: any free port)')
      .option('--open', 'open the page in a browser')
      .option('--polling', 'poll for changes instead of native file events (network drives)')
      .description(
        'a live web page for people: what needs you, agents, tasks; 127.0.0.1 only, token in the URL',
      ),
    { as: true, json: false },
  ).action(async (o) => (await import('./commands/board.js')).board(opts(o)));

  common(
    program
      .command('sync')
      .argument('[host]', 'one host (default: every host)')
      .option('--dry-run', 'say what would change, change nothing')
      .description('one sync pass with each host now (for cron); exit 4 when a host cannot be reached'),
  ).action(async (host, o) => {
    exitCode = await (await import('./commands/sync.js')).sync(host, opts(o));
  });

  common(
    program
      .command('watch')
      .description('print a line per change under agents/ until stdin closes (a hub follows this over SSH)'),
    { json: false },
  ).action(async (o) => (await import('./commands/watch.js')).watch(opts(o)));

  common(
    program
      .command('serve')
      .description('the far-side sync agent a hub starts over SSH: framed protocol on stdin/stdout')
      .addOption(
        new Option(
          '--stay <ms>',
          'stay for later hubs on a Unix socket (the agent starts this itself)',
        ).hideHelp(),
      ),
    { json: false },
  ).action(async (o) => (await import('./commands/serve.js')).serve(opts(o)));
}

function defineAgentVerbs(): void {
  // --- Agents: claim, wait, ask (docs/spec.md §4); exit 5 when nothing came -----------------------
  const agentVerbs = () => import('./commands/agent.js');
  common(
    program
      .command('next')
      .option('--wait [duration]', 'sleep until a task arrives (at most DURATION; no limit without one)')
      .description(
        'claim your best queued task (queued -> acked; urgent first, then oldest); exit 5 if none',
      ),
    { as: true },
  ).action(async (o) => {
    exitCode = await (await agentVerbs()).next(opts(o));
  });
  common(
    program
      .command('wait')
      .option('--timeout <duration>', 'give up after this long (exit 5); default: no limit')
      .description('return when something addressed to you arrives or changes since your last look'),
    { as: true },
  ).action(async (o) => {
    exitCode = await (await agentVerbs()).wait(opts(o));
  });
  common(
    program
      .command('ask')
      .argument('<agent>', 'who is asked (the escalation agent, human, is a person: notify runs)')
      .argument('<question>')
      .option('--body <text>', 'details')
      .addOption(new Option('--priority <p>', 'priority').choices(['urgent', 'high', 'normal', 'low']))
      .option('--wait [duration]', 'wait for the answer and print it (exit 5 if none came in time)')
      .description('ask a question: a task whose result is the answer; prints its id'),
    { as: true },
  ).action(async (to, question, o) => {
    exitCode = await (await agentVerbs()).ask(to, question, opts(o));
  });
  common(
    program
      .command('answer')
      .argument('<id>', 'the question (id or unique prefix)')
      .argument('[text]', 'the answer (else piped standard input)')
      .description('answer a question: it is done with the answer as its result, and goes back to the asker'),
    { as: true },
  ).action(async (id, text, o) => (await agentVerbs()).answer(id, text, opts(o)));
  common(
    program
      .command('mcp')
      .description(
        'stdio MCP server for the acting agent: the task verbs as tools, inbox and task resources',
      ),
    { as: true, json: false },
  ).action(async (o) => (await import('./commands/mcp.js')).mcp(opts(o)));
  const hooks = program
    .command('hooks')
    .description('hooks that tell agent CLI sessions of new tasks')
    .exitOverride();
  for (const verb of ['install', 'uninstall'] as const)
    common(
      hooks
        .command(verb)
        .argument('<cli>', 'claude or codex')
        .option('--file <path>', 'the settings file (default: .claude/settings.json, or ~/.codex/hooks.json)')
        .description(`${verb} the hook configuration of Claude Code or Codex (merged, never overwritten)`),
      { as: true },
    ).action(async (cli, o) => (await import('./commands/hooks.js'))[verb](cli, opts(o)));
  common(
    hooks
      .command('check')
      .description('print what is new in your inbox since the last look; silent if nothing'),
    { as: true },
  ).action(async (o) => (await import('./commands/hooks.js')).check(opts(o)));
  // --- end of agent commands ----------------------------------------------------------------------
}

/** service, demo. */
function defineService(): void {
  const service = program
    .command('service')
    .description('run the daemon as a systemd user service (Linux) or a LaunchAgent (macOS), one per root')
    .exitOverride();
  const serviceHandlers = () => import('./commands/service.js');
  common(
    service.command('install').description('install (or reinstall) and start the service for this root'),
  ).action(async (o) => (await serviceHandlers()).install(opts(o)));
  common(service.command('uninstall').description('stop the service and remove its file')).action(async (o) =>
    (await serviceHandlers()).uninstall(opts(o)),
  );
  common(
    service.command('status').description("the service's file and what the service manager says"),
  ).action(async (o) => {
    exitCode = await (await serviceHandlers()).status(opts(o));
  });
  common(
    service
      .command('logs')
      .option('-n, --lines <n>', 'how many recent lines (default 100)')
      .option('-f, --follow', 'keep printing new lines')
      .description("the daemon's output (the user journal on Linux, ~/Library/Logs/mailroom on macOS)"),
    { json: false },
  ).action(async (o) => {
    exitCode = await (await serviceHandlers()).logs(opts(o));
  });

  program
    .command('demo')
    .option('--root <dir>', 'where the demo mailroom lives (default: ./.mailroom-demo, recreated each run)')
    .description('a half-minute tour with a live daemon: routing, a retried failure, an escalation')
    .exitOverride()
    .action(async (o) => (await import('./commands/demo.js')).demo(o));
}

/**
 * The verb this run names (the first word after the program's own options), or undefined. Only it
 * is defined when it is one of ours: defining all ~40 commands with their options took ~10 ms of
 * every command's start. Help without a verb, `help`, and an unknown word get them all (commander
 * lists them, and suggests the nearest).
 */
function verbIn(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--root') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/**
 * A command that is not defined: takes any chain of calls (options, subcommands, an action) and
 * keeps nothing. Not a thenable (no `then`), so nothing can wait on it by mistake.
 */
const ABSENT: unknown = new Proxy(() => ABSENT, {
  get: (_, key) => (key === 'then' ? undefined : () => ABSENT),
  apply: () => ABSENT,
});

function defineOnly(verb: string | undefined): boolean {
  let matched = false;
  if (verb !== undefined) {
    const real = program.command.bind(program);
    program.command = ((nameAndArgs: string, ...rest: unknown[]) => {
      if (nameAndArgs.split(' ')[0] !== verb) return ABSENT;
      matched = true;
      return (real as (...a: unknown[]) => unknown)(nameAndArgs, ...rest);
    }) as typeof program.command;
  }
  defineCommands();
  return matched;
}

const named = verbIn(process.argv.slice(2));
if (!defineOnly(named) && named !== undefined) {
  program = newProgram(); // not one of ours: all of them, for the help and the suggestion
  defineOnly(undefined);
}

async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; everything else commander reports is bad usage (exit 1).
      return err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
        ? 0
        : 1;
    }
    const debug = argv.includes('--debug');
    return reportError(err, debug, argv.includes('--json'));
  }
}

endQuietlyOnClosedPipe();
// No top-level await: the bundle is CommonJS (scripts/bundle.mjs, launch.ts).
void main(process.argv).then(exitWhenWritten);
