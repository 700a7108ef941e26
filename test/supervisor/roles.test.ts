import { describe, expect, it } from 'vitest';
import { nextInRole, roleMates } from '../../src/supervisor/roles.js';

const agents = {
  zed: { role: 'r' },
  human: null,
  amy: { role: 'r' },
  dispatch: {},
  'bob-2': { role: 'r' },
  bob: { role: 'r' },
  other: { role: 'q' },
};

describe('roleMates', () => {
  it.each([
    ['amy', ['bob', 'bob-2', 'zed']],
    ['bob', ['bob-2', 'zed', 'amy']],
    ['zed', ['amy', 'bob', 'bob-2']],
    ['other', []],
    ['dispatch', []],
    ['human', []],
    ['nobody', []],
  ])('%s -> %j (by name, starting after the worker, wrapping round)', (worker, mates) => {
    expect(roleMates(agents, worker)).toEqual(mates);
    expect(nextInRole(agents, worker)).toBe(mates[0]);
  });
});
