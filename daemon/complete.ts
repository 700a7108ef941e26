// Completes a file a person dropped into an inbox with only a title (frontmatter without `state`) or
// only a body (no frontmatter; its first line becomes the title) into a valid task (docs/spec.md §2).
// Pure: the caller supplies the clock, the id check and a fresh id. The original body bytes are kept.

import { isAgentName, isTaskId } from '../src/names.js';
import { applyTaskEdit } from '../src/task/edit.js';
import { splitFrontmatter } from '../src/task/frontmatter.js';
import { isoSeconds } from '../src/task/id.js';
import { parseTask } from '../src/task/parse.js';
import { renderTask } from '../src/task/render.js';
import { parseYaml } from '../src/yaml/document.js';

export interface CompleteInput {
  text: string;
  /** The file name without `.md`. */
  name: string;
  /** The agent whose inbox holds the file. */
  agent: string;
  now: Date;
  /** Is this id free (no task anywhere has it)? */
  isIdFree: (id: string) => boolean;
  newId: () => string;
}

export type CompleteResult =
  | { kind: 'not-a-drop' } // a task (or a broken one): the normal parse and report path applies
  | { kind: 'empty' } // nothing to complete yet (an editor may still be writing)
  | { kind: 'completed'; id: string; text: string; renamed: boolean };

function titleFrom(body: string): string | undefined {
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.replace(/^#+\s*/, '').trim();
    if (line) return line.length > 200 ? `${line.slice(0, 197)}...` : line;
  }
  return undefined;
}

export function completeDroppedFile(input: CompleteInput): CompleteResult {
  const split = splitFrontmatter(input.text);
  let fields: Record<string, unknown> = {};
  let body = input.text;
  if (split.ok) {
    const parsed = parseYaml(split.file.yaml);
    if (!parsed.ok) return { kind: 'not-a-drop' };
    const value = parsed.value ?? {};
    if (typeof value !== 'object' || Array.isArray(value) || 'state' in value) return { kind: 'not-a-drop' };
    fields = value as Record<string, unknown>;
    body = split.file.body;
  } else if (split.reason === 'unclosed') return { kind: 'not-a-drop' };
  const title =
    typeof fields.title === 'string' && fields.title.trim() ? fields.title.trim() : titleFrom(body);
  if (!title) return { kind: 'empty' };

  const nameOk = isTaskId(input.name) && input.isIdFree(input.name);
  const id = nameOk ? input.name : input.newId();
  const at = isoSeconds(input.now);
  const from = typeof fields.from === 'string' && isAgentName(fields.from) ? fields.from : 'human';
  const history = [{ state: 'queued' as const, at, by: from }];

  let text: string;
  if (split.ok) {
    const set: Record<string, string> = {};
    if (fields.id !== id) set.id = id;
    if (fields.title === undefined) set.title = title;
    if (fields.from !== from) set.from = from;
    if (fields.to !== input.agent) set.to = input.agent;
    set.state = 'queued';
    if (typeof fields.created !== 'string') set.created = at;
    text = applyTaskEdit(split.file, { set, history });
  } else {
    const head = renderTask(
      {
        id,
        title,
        from,
        to: input.agent,
        state: 'queued',
        priority: 'normal',
        created: at,
        attempt: 1,
        max_attempts: 3,
        ack_timeout: '5m',
        run_timeout: '30m',
        history,
      },
      '',
    );
    text = head + input.text;
  }
  // The completed file must be a valid task; if the person's own fields are wrong, report instead.
  if (!parseTask(text, id).ok) return { kind: 'not-a-drop' };
  return { kind: 'completed', id, text, renamed: id !== input.name };
}
