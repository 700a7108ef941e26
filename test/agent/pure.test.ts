// The pure parts of the agent layer, as tables: what a cursor reports, which subscribed resources a
// file event concerns, and how hook settings are merged and removed.

import { describe, expect, it } from 'vitest';
import { addHooks, MARKER, removeHooks } from '../../agent/hooks-config.js';
import { urisFor } from '../../agent/mcp.js';
import { diffInbox } from '../../src/ops/cursor.js';
import type { LoadedTask } from '../../src/store/scan.js';
import { splitResult } from '../../src/task/result.js';

const task = (id: string, by: string[]): LoadedTask =>
  ({
    id,
    agent: 'w',
    box: 'inbox',
    path: `/r/agents/w/inbox/${id}.md`,
    text: '',
    parsed: {
      task: {
        id,
        history: by.map((b, i) => ({
          state: i === 0 ? 'queued' : 'acked',
          at: '2026-11-22T10:00:00Z',
          by: b,
        })),
      },
      file: { body: '' },
    },
  }) as unknown as LoadedTask;

describe('diffInbox: what is news to agent w', () => {
  it.each([
    ['a new task sent by someone else', {}, [task('a', ['d'])], ['a']],
    ['a task already shown, unchanged', { a: 1 }, [task('a', ['d'])], []],
    ['a task w acted on last (its own ack)', { a: 1 }, [task('a', ['d', 'w'])], []],
    ['a new task w already claimed', {}, [task('a', ['d', 'w'])], []],
    ['a task someone else changed after w', { a: 2 }, [task('a', ['d', 'w', 'h'])], ['a']],
    ['a hand-dropped file without history', {}, [task('a', [])], ['a']],
  ] as const)('%s', (_what, seen, tasks, expected) => {
    const { changes, next } = diffInbox('w', { ...seen }, [...tasks]);
    expect(changes.map((t) => t.id)).toEqual(expected);
    expect(Object.keys(next)).toEqual(tasks.map((t) => t.id)); // tasks gone from the inbox are forgotten
  });
});

describe('urisFor: which subscriptions a file event concerns', () => {
  const subs = ['mailroom://inbox/w', 'mailroom://task/t1', 'mailroom://inbox/v'];
  it.each([
    ['/r/agents/w/inbox/t1.md', ['mailroom://inbox/w', 'mailroom://task/t1']],
    ['/r/agents/w/inbox/t2.md', ['mailroom://inbox/w']],
    ['/r/agents/w/outbox/t1.md', ['mailroom://task/t1']],
    ['/r/agents/w/inbox', ['mailroom://inbox/w']],
    ['/r/agents/v/archive/t3.md', []],
  ])('%s', (path, expected) => {
    expect(urisFor('/r/agents', path, subs)).toEqual(expected);
  });
});

describe('hook settings', () => {
  const cmd = `mailroom hooks check --as w ${MARKER}`;
  it('adds one group per event, keeps everything else, and is idempotent', () => {
    const user = {
      model: 'x',
      hooks: { SessionStart: [{ matcher: 'startup', hooks: [{ type: 'command', command: 'echo hi' }] }] },
    };
    const once = addHooks(user, cmd);
    expect(once.added).toBe(2);
    expect(once.settings.model).toBe('x');
    expect(addHooks(once.settings, cmd).added).toBe(0);
    expect(removeHooks(once.settings).settings).toEqual(user);
  });

  it('removes only marked entries; a user hook put into our group stays', () => {
    const { settings } = addHooks({}, cmd);
    const hooks = settings.hooks as Record<string, { hooks: unknown[] }[]>;
    hooks.SessionStart![0]!.hooks.push({ type: 'command', command: 'echo mine' });
    const { settings: after, removed } = removeHooks(settings);
    expect(removed).toBe(2);
    expect(after).toEqual({
      hooks: { SessionStart: [{ hooks: [{ type: 'command', command: 'echo mine' }] }] },
    });
  });
});

describe('splitResult', () => {
  it.each([
    ['Request.\n', 'Request.', null],
    ['Request.\n\n## Result\n\nDone.\n', 'Request.', 'Done.'],
    ['## Result\n\nfirst\n\n## Result\n\nsecond\n', '## Result\n\nfirst', 'second'],
  ])('%j', (body, request, result) => {
    expect(splitResult(body)).toEqual({ request, result });
  });
});
