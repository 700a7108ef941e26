import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../src/yaml/document.js';

// Hostile YAML is a fact about a file, never an exception out of the parser (torture defect D5).
describe('parseYaml on hostile input', () => {
  const cases: [string, string, RegExp][] = [
    [
      'an alias bomb (10^4 expansions from four short lines)',
      'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      /^YAML aliases expand too much \(at most 100\)$/,
    ],
    ['an alias to an anchor that is not set', 'a: &a b\nc: *zz', /Unresolved alias/],
    ['nesting deep enough to exhaust the stack', `${'['.repeat(20_000)}${']'.repeat(20_000)}`, /./],
  ];
  for (const [what, text, message] of cases) {
    it(`reports ${what} as a problem`, () => {
      const r = parseYaml(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.problem.message).toMatch(message);
    });
  }

  it('still expands a modest use of aliases', () => {
    const r = parseYaml('a: &a [x, y]\nb: [*a, *a]\n');
    expect(r.ok && r.value).toEqual({
      a: ['x', 'y'],
      b: [
        ['x', 'y'],
        ['x', 'y'],
      ],
    });
  });
});
