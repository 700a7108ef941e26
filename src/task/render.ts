// Renders a brand-new task file in the canonical layout of docs/spec.md §2. Pure.

import { renderFlowMap, renderYaml } from '../yaml/document.js';
import type { Task } from './schema.js';

const FIELD_ORDER = [
  'id',
  'title',
  'from',
  'to',
  'state',
  'priority',
  'created',
  'attempt',
  'max_attempts',
  'ack_timeout',
  'run_timeout',
] as const;

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
