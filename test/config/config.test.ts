// mailroom.yaml errors in mailroom's own words: the line, the key and a fix that works. Config typos
// passed silently (`notfy:` turned notifications off), raw validator wording leaked, an empty file
// blamed escalate_to, and the suggested fixes were commands that cannot run on an invalid file.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { MailroomError } from '../../src/errors.js';
import { DEFAULT_CONFIG } from '../../src/ops/setup.js';
import { closest } from '../../src/suggest.js';
import { newMailroom } from '../support/cli.js';

function refusal(text: string): { message: string; hint: string } {
  try {
    parseConfig(text, 'mailroom.yaml');
  } catch (err) {
    if (!(err instanceof MailroomError)) throw err;
    return { message: err.message, hint: err.hint ?? '' };
  }
  throw new Error(`accepted: ${text}`);
}

const AGENTS = 'agents:\n  dispatch: {}\n  human: {}\n  research: { role: research }\n';

describe('mailroom.yaml validation', () => {
  const cases: [string, string, RegExp, RegExp][] = [
    [
      'a top-level typo (notfy:) is refused with did-you-mean (it turned notifications off silently)',
      `${AGENTS}notfy: echo hi\n`,
      /^mailroom\.yaml:5: unknown key "notfy" at the top level \(did you mean "notify"\?\)$/,
      /^rename it to notify$/,
    ],
    [
      'an unknown top-level key with nothing close lists the keys',
      `${AGENTS}colour: blue\n`,
      /^mailroom\.yaml:5: unknown key "colour" at the top level$/,
      /^remove it \(the keys at the top level: agents, hosts, sync, escalate_to, notify/,
    ],
    [
      'a typo under sync: is refused',
      `${AGENTS}sync:\n  intervall: 5s\n`,
      /^mailroom\.yaml:6: unknown key "intervall" in sync: \(did you mean "interval"\?\)$/,
      /^rename it to interval$/,
    ],
    [
      'a typo in an agent is refused with did-you-mean',
      'agents:\n  human: {}\n  research: { rol: research }\n',
      /^mailroom\.yaml:3: unknown key "rol" in agent research \(did you mean "role"\?\)$/,
      /^rename it to role$/,
    ],
    [
      'a password in a host is refused with why',
      `${AGENTS}hosts:\n  vps: { ssh: a@b, root: /m, password: hunter2 }\n`,
      /^mailroom\.yaml:6: unknown key "password" in host vps$/,
      /passwords are never stored/,
    ],
    [
      'a bad agent name is named in our words (was "Invalid key in record")',
      'agents:\n  human: {}\n  Research: {}\n',
      /^mailroom\.yaml:3: "Research" is not a valid agent name$/,
      /^rename it: agent names are 1-63 characters/,
    ],
    [
      'an empty mailroom.yaml says it is empty (it reported escalate_to: no agent named "human")',
      '',
      /^mailroom\.yaml: the file has no settings; a mailroom needs at least its agents$/,
      /agents: \{ dispatch: \{\}, human: \{\} \}/,
    ],
    [
      'escalate_to: nobody suggests an edit of the file (it suggested `mailroom agent add`, which cannot run)',
      `${AGENTS}escalate_to: nobody\n`,
      /^mailroom\.yaml:5: escalate_to: no agent named "nobody"$/,
      /^add "nobody: \{\}" under agents:, or set escalate_to: to one of dispatch, human, research$/,
    ],
    [
      'escalate_to close to an agent suggests that agent',
      `${AGENTS}escalate_to: humna\n`,
      /escalate_to: no agent named "humna" \(did you mean "human"\?\)$/,
      /^change it to human$/,
    ],
    [
      'an agent both on a host and elsewhere is refused (one machine or the other)',
      'agents:\n  human: {}\n  r: { host: far, elsewhere: true }\nhosts:\n  far: { ssh: u@h, root: /m }\n',
      /^mailroom\.yaml:3: agents\.r: host: and elsewhere: together$/,
      /^on the hub use host: .*elsewhere: true/,
    ],
    [
      'an agent on an unknown host suggests an edit of the file',
      'agents:\n  human: {}\n  r: { host: far }\n',
      /^mailroom\.yaml:3: agents\.r\.host: no host named "far"$/,
      /^add far under hosts: \(with ssh: and root:\), or remove host: to keep r on this machine$/,
    ],
    [
      'escalate_to: constructor is not taken for an agent (an inherited property of every object)',
      `${AGENTS}escalate_to: constructor\n`,
      /no agent named "constructor"/,
      /under agents:/,
    ],
  ];
  for (const [name, text, message, hint] of cases) {
    it(name, () => {
      const r = refusal(text);
      expect(r.message).toMatch(message);
      expect(r.hint).toMatch(hint);
      expect(`${r.message} ${r.hint}`).not.toMatch(/Invalid|record|mailroom (agent|host) add/);
    });
  }

  it('a valid file still loads, with its defaults', () => {
    const c = parseConfig(`${AGENTS}notify: echo hi\nsync: { interval: 5s }\n`, 'mailroom.yaml');
    expect(c.escalate_to).toBe('human');
    expect(c.sync.interval).toBe('5s');
  });

  it('the notify example in the default mailroom.yaml parses when uncommented (it was invalid YAML)', () => {
    const text = DEFAULT_CONFIG.replace(/^# notify: /m, 'notify: ');
    expect(parseConfig(text, 'mailroom.yaml').notify).toBe(
      'notify-send "mailroom" "$MAILROOM_TITLE: $MAILROOM_REASON"',
    );
  });

  it('closest() suggests only near names', () => {
    expect(closest('notfy', ['notify', 'hosts'])).toBe('notify');
    expect(closest('reserch', ['research', 'human'])).toBe('research');
    expect(closest('x', ['y'])).toBeUndefined();
    expect(closest('colour', ['agents', 'hosts', 'notify'])).toBeUndefined();
  });
});

describe('agent names on the command line', () => {
  it('send ../etc says the name is invalid (it suggested `mailroom agent add ../etc`)', async () => {
    const m = await newMailroom();
    try {
      const r = await m.mr(['send', '../etc', 'a title']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/invalid agent name "\.\.\/etc"/);
      expect(r.stderr).not.toMatch(/agent add/);
      const typo = await m.mr(['send', 'reserch', 'a title']);
      expect(typo.code).toBe(2);
      expect(typo.stderr).toMatch(/no agent named "reserch" in mailroom\.yaml \(did you mean "research"\?\)/);
    } finally {
      await m.cleanup();
    }
  });

  it('an empty mailroom.yaml stops a command with the file fix', async () => {
    const m = await newMailroom([]);
    try {
      await writeFile(join(m.root, 'mailroom.yaml'), '');
      const r = await m.mr(['ls']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/the file has no settings/);
      expect(r.stderr).not.toMatch(/escalate_to/);
    } finally {
      await m.cleanup();
    }
  });
});
