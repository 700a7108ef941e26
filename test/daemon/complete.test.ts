import { describe, expect, it } from 'vitest';
import { completeDroppedFile } from '../../daemon/complete.js';
import { illegalChange } from '../../daemon/hand-edit.js';
import { parseTask } from '../../src/task/parse.js';
import type { Task } from '../../src/task/schema.js';

const now = new Date('2026-11-22T10:15:00Z');
const base = { agent: 'research', now, isIdFree: () => true, newId: () => '20261122-101500-abcd' };

describe('completing a dropped file', () => {
  it('a body only: the first line becomes the title, the body is kept byte for byte', () => {
    const text = '# Look into flaky sync\r\nIt fails on Tuesdays.\r\n';
    const r = completeDroppedFile({ ...base, text, name: 'flaky' });
    expect(r.kind).toBe('completed');
    if (r.kind !== 'completed') return;
    expect(r).toMatchObject({ id: 'flaky', renamed: false });
    expect(r.text.endsWith(`---\n${text}`)).toBe(true);
    const p = parseTask(r.text, 'flaky');
    expect(p.ok && p.value.task).toMatchObject({
      title: 'Look into flaky sync',
      from: 'human',
      to: 'research',
      state: 'queued',
      created: '2026-11-22T10:15:00Z',
    });
  });

  it('a title only: the missing fields are added around what the person wrote', () => {
    const text = '---\ntitle: Check the logs   # please\npriority: urgent\nfrom: dispatch\n---\nDetails.\n';
    const r = completeDroppedFile({ ...base, text, name: 'logs' });
    if (r.kind !== 'completed') throw new Error(r.kind);
    expect(r.text).toContain('title: Check the logs   # please\npriority: urgent\nfrom: dispatch\n');
    const p = parseTask(r.text, 'logs');
    expect(p.ok && p.value.task).toMatchObject({
      id: 'logs',
      priority: 'urgent',
      from: 'dispatch',
      to: 'research',
      state: 'queued',
    });
    expect(p.ok && p.value.task.history).toEqual([
      { state: 'queued', at: '2026-11-22T10:15:00Z', by: 'dispatch' },
    ]);
  });

  it('a name that is not a valid or free id gets a new id (the file is renamed)', () => {
    for (const [name, free] of [
      ['my task', true],
      ['taken', false],
    ] as const) {
      const r = completeDroppedFile({ ...base, text: 'Do it\n', name, isIdFree: () => free });
      expect(r).toMatchObject({ kind: 'completed', id: '20261122-101500-abcd', renamed: true });
    }
  });

  it.each([
    ['a real task', '---\nid: x\ntitle: t\nstate: queued\n---\n', 'not-a-drop'],
    ['broken YAML', '---\ntitle: [oops\n---\n', 'not-a-drop'],
    ['unclosed frontmatter', '---\ntitle: t\n', 'not-a-drop'],
    ['an empty file', '', 'empty'],
    ['only blank lines', '\n\n  \n', 'empty'],
    ['a bad field the person wrote', '---\ntitle: t\npriority: whenever\n---\n', 'not-a-drop'],
  ])('%s is not completed', (_name, text, kind) => {
    expect(completeDroppedFile({ ...base, text, name: 'x' }).kind).toBe(kind);
  });
});

describe('judging a hand edit', () => {
  const task = (state: Task['state'], extra: Partial<Task> = {}) =>
    ({ state, attempt: 1, to: 'research', ...extra }) as Task;
  const prev = (state: Task['state'], attempt = 1, to = 'research') => ({ state, attempt, to });
  it.each([
    ['forward', prev('queued'), task('running'), false],
    ['to failed from running', prev('running'), task('failed'), false],
    ['retry by hand (attempt + 1)', prev('failed'), task('queued', { attempt: 2 }), false],
    ['reassign by hand', prev('running'), task('queued', { to: 'coder' }), false],
    ['unchanged', prev('running'), task('running'), false],
    ['retried and finished between two scans', prev('failed'), task('done', { attempt: 2 }), false],
    ['reassigned and finished between two scans', prev('running'), task('done', { to: 'coder' }), false],
    ['backwards', prev('running'), task('queued'), true],
    ['done -> failed', prev('done'), task('failed'), true],
    ['failed -> queued without a new attempt', prev('failed'), task('queued'), true],
    ['done -> running', prev('done'), task('running'), true],
  ] as const)('%s', (_name, p, next, illegal) => {
    expect(illegalChange(p, next) !== undefined).toBe(illegal);
  });
});
