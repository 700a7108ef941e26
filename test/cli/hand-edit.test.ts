import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMailroom, runCli } from '../support/cli.js';

let env: Awaited<ReturnType<typeof newMailroom>>;
beforeAll(async () => {
  env = await newMailroom(['research']);
});
afterAll(async () => env.cleanup());

// What a person writes in their editor: comments, odd spacing, quotes, keys mailroom does not know,
// and Windows line endings.
const HAND_WRITTEN = [
  '---',
  '# Written by hand. Keep this comment.',
  'id: hand-1      # the file is hand-1.md',
  'title: \'Review: the "sync" design\'',
  'from: human',
  'to: research',
  'state: "queued"',
  'priority: high',
  'created: 2026-11-22T10:15:00Z',
  'ticket: { system: jira, key: "MR-42" }   # unknown keys survive',
  'labels: [design, sync]',
  'history:',
  '  - { state: queued, at: 2026-11-22T10:15:00Z, by: human }',
  '# after history',
  'deadline: "2026-12-01"',
  '---',
  'Please review the design.',
  '',
  '- point one',
  '',
].join('\r\n');

describe('a hand-written task file', () => {
  it('after `mailroom ack`, only the state line changed and one history line was added', async () => {
    const path = join(env.root, 'agents/research/inbox/hand-1.md');
    await writeFile(path, HAND_WRITTEN);
    const r = await env.mr(['ack', 'hand-1', '--as', 'research']);
    expect(r.code, r.stderr).toBe(0);
    const after = await readFile(path, 'utf8');
    const a = HAND_WRITTEN.split('\r\n');
    const b = after.split('\r\n');
    // Line-level diff: b = a with line 6 replaced and one line inserted after the last history entry.
    expect(b).toHaveLength(a.length + 1);
    const removed = a.filter((line) => !b.includes(line));
    const added = b.filter((line) => !a.includes(line));
    expect(removed).toEqual(['state: "queued"']);
    expect(added).toEqual([
      'state: "acked"',
      expect.stringMatching(/^ {2}- \{ state: acked, at: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, by: research \}$/),
    ]);
    expect(b.indexOf(added[1]!)).toBe(
      a.indexOf('  - { state: queued, at: 2026-11-22T10:15:00Z, by: human }') + 1,
    );
    // No bare LF crept in: every line still ends in CRLF.
    expect(after.replace(/\r\n/g, '')).not.toContain('\n');
  });

  it('keeps a byte order mark and a file without a trailing newline intact', async () => {
    const path = join(env.root, 'agents/research/inbox/hand-2.md');
    const text =
      '\uFEFF---\nid: hand-2\ntitle: BOM\nfrom: human\nto: research\nstate: queued\ncreated: 2026-11-22T10:15:00Z\n---\nno newline at end';
    await writeFile(path, text);
    expect((await env.mr(['start', 'hand-2'])).code).toBe(0);
    const after = await readFile(path, 'utf8');
    expect(after.startsWith('\uFEFF---\nid: hand-2\n')).toBe(true);
    expect(after.endsWith('---\nno newline at end')).toBe(true);
    expect(after).toContain('state: running\n');
    expect(after).toMatch(
      /history:\n {2}- \{ state: acked, at: [^}]+, note: skipped \}\n {2}- \{ state: running,/,
    );
  });
});

describe('malformed files among good ones', () => {
  const BAD: Record<string, [string, RegExp]> = {
    'bad-yaml.md': ['---\nid: bad-yaml\ntitle: [unclosed\n---\n', /invalid YAML/],
    'bad-state.md': [
      '---\nid: bad-state\ntitle: t\nfrom: human\nto: research\nstate: doing\ncreated: 2026-11-22T10:15:00Z\n---\n',
      /bad-state\.md:6: state: unknown state "doing"/,
    ],
    'bad-type.md': [
      '---\nid: bad-type\ntitle: t\nfrom: human\nto: research\nstate: queued\ncreated: 2026-11-22T10:15:00Z\nattempt: many\n---\n',
      /attempt: expected a whole number/,
    ],
    'wrong-id.md': [
      '---\nid: other\ntitle: t\nfrom: human\nto: research\nstate: queued\ncreated: 2026-11-22T10:15:00Z\n---\n',
      /does not match the file name/,
    ],
    'no-end.md': ['---\nid: no-end\ntitle: t\n', /not closed/],
    'binary.md': ['\u0000\u0001\u0002', /binary/],
  };

  it('ls lists the good ones, reports each bad one with path and reason, and never modifies them', async () => {
    const inbox = join(env.root, 'agents/research/inbox');
    const good = (await env.mr(['send', 'research', 'A good task'])).stdout.trim();
    for (const [name, [text]] of Object.entries(BAD)) await writeFile(join(inbox, name), text);
    const before = await Promise.all(Object.keys(BAD).map((n) => readFile(join(inbox, n))));

    const human = await env.mr(['ls', '--agent', 'research']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(good);
    for (const [name, [, reason]] of Object.entries(BAD)) {
      expect(human.stderr).toContain(`agents/research/inbox/${name}`);
      expect(human.stderr).toMatch(reason);
    }
    const json = JSON.parse((await env.mr(['ls', '--json'])).stdout);
    expect(json.tasks.map((t: { id: string }) => t.id)).toContain(good);
    expect(json.problems.map((p: { path: string }) => p.path).sort()).toEqual(
      Object.keys(BAD)
        .map((n) => `agents/research/inbox/${n}`)
        .sort(),
    );

    // A change to a bad file is refused naming the file; doctor reports every one.
    const ack = await env.mr(['ack', 'bad-state']);
    expect(ack.code).toBe(1);
    expect(ack.stderr).toMatch(/bad-state\.md:6: state: unknown state/);
    const doc = await env.mr(['doctor']);
    expect(doc.code).toBe(1);
    for (const name of Object.keys(BAD)) expect(doc.stdout).toContain(name);

    const after = await Promise.all(Object.keys(BAD).map((n) => readFile(join(inbox, n))));
    expect(after).toEqual(before);
    expect((await readdir(inbox)).filter((n) => n.endsWith('.error.txt') || n.includes('.tmp'))).toEqual([]);
  });
});

describe('doctor and host keys', () => {
  it('names a host whose key is not in known_hosts, with the ssh-keyscan line to run', async () => {
    const kh = `${env.root}/empty_known_hosts`;
    await writeFile(kh, '');
    // `host add` takes --root for the far folder: this mailroom goes before the command.
    const r = await runCli([
      '--root',
      env.root,
      'host',
      'add',
      'vps',
      'deploy@203.0.113.7:2222',
      '--root',
      '/srv/mr',
      '--known-hosts',
      kh,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const doc = await env.mr(['doctor']);
    expect(doc.code).toBe(1);
    expect(doc.stdout).toMatch(/no host key for \[203\.0\.113\.7\]:2222 \(host vps\)/);
    expect(doc.stdout).toContain(`ssh-keyscan -p 2222 203.0.113.7 >> ${kh}`);
    await writeFile(
      kh,
      '[203.0.113.7]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n',
    );
    expect((await env.mr(['doctor'])).stdout).not.toMatch(/no host key/);
  });
});
