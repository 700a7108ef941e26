// A run defines only the command it names (cli/main.ts defineOnly): the help without a verb, `help`,
// and a word that is no command must still see every command, and a verb after the program's own
// options must still be found.

import { describe, expect, it } from 'vitest';
import { newMailroom, runCli } from '../support/cli.js';

describe('the command named, and all of them when none is', () => {
  it('--help lists every command; `help VERB` and `VERB --help` show that one', async () => {
    const all = await runCli(['--help']);
    expect(all.code).toBe(0);
    for (const verb of ['init', 'agent', 'send', 'ls', 'ack', 'next', 'mcp', 'hooks', 'service', 'demo'])
      expect(all.stdout).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
    for (const args of [
      ['help', 'ack'],
      ['ack', '--help'],
    ]) {
      const one = await runCli(args);
      expect(one.code, args.join(' ')).toBe(0);
      expect(one.stdout).toMatch(/^Usage: mailroom ack \[options\] <id>/);
    }
  });

  it('a word that is no command gets the nearest suggested', async () => {
    const r = await runCli(['lss']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown command 'lss'/);
    expect(r.stderr).toMatch(/Did you mean ls\?/);
  });

  it('finds the verb after the program options, and a subcommand of it', async () => {
    const m = await newMailroom([]);
    try {
      const r = await runCli(['--root', m.root, '--debug', 'agent', 'ls']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^AGENT\s+HOST\s+ROLE/);
      expect(r.stdout).toMatch(/^dispatch\b/m);
    } finally {
      await m.cleanup();
    }
  });
});
