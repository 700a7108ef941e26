// OpenSSH host patterns, shared by ssh_config `Host` lines and known_hosts host fields, so that both
// decide "does this pattern list name this host?" exactly the same way: `*` and `?` wildcards,
// case-insensitive, and a matching `!pattern` vetoes the whole list (a negation alone never matches).

/** True when `text` matches one glob `pattern` (`*` any run, `?` one character), by default ignoring case. */
export function matchGlob(text: string, pattern: string, ignoreCase = true): boolean {
  const t = ignoreCase ? text.toLowerCase() : text;
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  // Iterative glob with single backtrack point: linear in practice, no regex built from user input.
  let ti = 0;
  let pi = 0;
  let starP = -1;
  let starT = 0;
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === t[ti])) {
      ti++;
      pi++;
    } else if (pi < p.length && p[pi] === '*') {
      starP = pi++;
      starT = ti;
    } else if (starP !== -1) {
      pi = starP + 1;
      ti = ++starT;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/**
 * OpenSSH's pattern-list rule: true when some positive pattern matches and no negated one does.
 * Used with the words of a `Host` line, or the comma-separated field of a known_hosts line.
 */
export function matchPatternList(text: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const raw of patterns) {
    if (raw.startsWith('!')) {
      if (matchGlob(text, raw.slice(1))) return false;
    } else if (raw !== '' && matchGlob(text, raw)) {
      matched = true;
    }
  }
  return matched;
}
