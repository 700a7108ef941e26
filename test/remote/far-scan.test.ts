// The far agent's cut of a cache path into the task id and location its scan expects to find again.
// It replaced a split('/') per path (10,000 per manifest); these cases hold it to what that gave.

import { describe, expect, it } from 'vitest';
import { isTaskId } from '../../src/names.js';
import { taskLocOf } from '../../src/remote/far-scan.js';

/** The rule as it was written before, with split. */
function bySplit(path: string): [string, string] | undefined {
  const parts = path.split('/');
  if (parts[0] !== 'agents' || parts.length !== 4 || !parts[3]!.endsWith('.md')) return undefined;
  const id = parts[3]!.slice(0, -3);
  return isTaskId(id) ? [id, `${parts[1]}/${parts[2]}`] : undefined;
}

const ID = '20260101-000000-000a';

describe('taskLocOf', () => {
  it('gives the id and agent/box of a task path', () => {
    expect(taskLocOf(`agents/a03/inbox/${ID}.md`)).toEqual([ID, 'a03/inbox']);
    expect(taskLocOf(`agents/worker-1/outbox/${ID}.md`)).toEqual([ID, 'worker-1/outbox']);
  });

  it('refuses what is not a task path, as split did', () => {
    const paths = [
      `agents/a03/inbox/${ID}.md`,
      `agents/a03/${ID}.md`,
      `agents/a03/inbox/sub/${ID}.md`,
      `agents/a03/inbox/${ID}.txt`,
      'agents/a03/AGENT.md',
      'agents/a03/inbox/notes.md',
      `other/a03/inbox/${ID}.md`,
      `agents//inbox/${ID}.md`,
      `agents/a03//${ID}.md`,
      `agents/a03/inbox/${ID}.md/`,
      `agentsX/a03/inbox/${ID}.md`,
      'agents/',
      '',
      `agents/a03/inbox/.md`,
    ];
    for (const p of paths) expect(taskLocOf(p), p).toEqual(bySplit(p));
    expect(taskLocOf(`agents/a03/${ID}.md`)).toBeUndefined();
    expect(taskLocOf(`agents/a03/inbox/sub/${ID}.md`)).toBeUndefined();
    expect(taskLocOf(`other/a03/inbox/${ID}.md`)).toBeUndefined();
  });
});
