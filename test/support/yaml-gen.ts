// Generated YAML for the fast reader's and fast editor's differential tests: a seeded generator (the
// same corpus every run) and the atoms that YAML reads as something else than plain text, or that
// end, quote or open a structure.

/** A deterministic `rand(n)` in [0, n) (a linear congruential generator from `seed`). */
export function seededRand(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s % n;
  };
}

export const TRICKY_ATOMS: readonly string[] = [
  '0',
  '7',
  '42',
  '-',
  ':',
  ' ',
  '.',
  ',',
  '#',
  "'",
  '"',
  '{',
  '}',
  '[',
  ']',
  'e',
  '!',
  '&',
  '*',
  '|',
  '~',
  'true',
  'null',
  'no',
  '1.5',
  '0x1',
  '%',
  ' - ',
  ': ',
];
