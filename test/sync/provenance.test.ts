// The provenance rule (docs/spec.md §6) as a table: what a far host may and may not send.

import { describe, expect, it } from 'vitest';
import { type Identity, identityOf, judgeProvenance } from '../../src/sync/provenance.js';

const sent: Identity = { id: 't1', from: 'dispatch', to: 'research', attempt: 1 };
const agents = ['research', 'scraper'];

describe('judgeProvenance', () => {
  it.each<[string, Identity | undefined, Identity, string, Record<string, unknown>?]>([
    ['a task the hub sent, fields unchanged (finished, failed, progress)', sent, sent, 'accept'],
    ['forged from on a task the hub sent', sent, { ...sent, from: 'human' }, 'repair', { from: 'dispatch' }],
    ['redirected to a hub agent', sent, { ...sent, to: 'dispatch' }, 'repair', { to: 'research' }],
    ['attempt reset', { ...sent, attempt: 3 }, { ...sent, attempt: 1 }, 'repair', { attempt: 3 }],
    [
      'from and to swapped',
      sent,
      { ...sent, from: 'research', to: 'dispatch' },
      'repair',
      { from: 'dispatch', to: 'research' },
    ],
    [
      'a new task from one of its agents',
      undefined,
      { id: 'n', from: 'research', to: 'human', attempt: 1 },
      'accept',
    ],
    [
      'a new task from its other agent',
      undefined,
      { id: 'n', from: 'scraper', to: 'dispatch', attempt: 1 },
      'accept',
    ],
    [
      "a new task in the human's name",
      undefined,
      { id: 'n', from: 'human', to: 'dispatch', attempt: 1 },
      'quarantine',
    ],
    [
      'a new task from a hub agent',
      undefined,
      { id: 'n', from: 'dispatch', to: 'research', attempt: 1 },
      'quarantine',
    ],
    ['a changed id', sent, { ...sent, id: 't2' }, 'quarantine'],
  ])('%s', (_name, known, incoming, kind, set) => {
    const v = judgeProvenance({ host: 'vps', hostAgents: agents, known, incoming });
    expect(v.kind).toBe(kind);
    if (v.kind === 'repair') expect(v.set).toEqual(set);
    if (v.kind !== 'accept') expect(v.reason).toContain('vps');
  });

  it('identityOf reads the guarded fields; attempt defaults to 1', () => {
    expect(identityOf('x', { id: 'x', from: 'a', to: 'b' })).toEqual({
      id: 'x',
      from: 'a',
      to: 'b',
      attempt: 1,
    });
    expect(identityOf('x', { id: 'x', from: 1, to: 'b' })).toBeUndefined();
  });
});
