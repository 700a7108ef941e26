// Renders a brand-new task file in the canonical layout of docs/spec.md §2. Pure.

import { renderFlowMap, renderYaml } from '../yaml/document.js';
import { TASK_FIELDS } from './fields.js';
import type { Task } from './schema.js';

// The head of the file: every field but history (written last) and the optional error and kind
// (written with the other fields a task may carry, in the task's own order).
const FIELD_ORDER = TASK_FIELDS.filter(
  (k): k is Exclude<(typeof TASK_FIELDS)[number], 'history' | 'error' | 'kind'> =>
    k !== 'history' && k !== 'error' && k !== 'kind',
);

export function renderTask(task: Task, body: string): string {
  const head: Record<string, unknown> = {};
  for (const key of FIELD_ORDER) head[key] = task[key];
  for (const [key, value] of Object.entries(task)) {
    if (!(key in head) && key !== 'history' && value !== undefined) head[key] = value;
  }
  let yaml = renderYaml(head);
  yaml += 'history:\n';
  for (const entry of task.history) yaml += `  - ${renderFlowMap({ ...entry })}\n`;
  const text = body.replace(/\r\n/g, '\n');
  return `---\n${yaml}---\n${text.length > 0 && !text.endsWith('\n') ? `${text}\n` : text}`;
}
