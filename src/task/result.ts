// The result of a finished task is the text under its last `## Result` heading (docs/spec.md §2);
// the request stays above it. Pure: a body in, its two parts out. The inverse of appendResult.

const HEADING = /^## Result[ \t]*\r?$/gm;

export interface BodyParts {
  /** The body above the result heading (the whole body when there is none), trailing blanks trimmed. */
  request: string;
  /** The text under the last `## Result` heading, trimmed; null when there is no such heading. */
  result: string | null;
}

export function splitResult(body: string): BodyParts {
  let last: RegExpExecArray | undefined;
  for (const m of body.matchAll(HEADING)) last = m as RegExpExecArray;
  if (!last) return { request: body.replace(/\s+$/, ''), result: null };
  const after = body.slice(last.index + last[0].length);
  return { request: body.slice(0, last.index).replace(/\s+$/, ''), result: after.trim() };
}
