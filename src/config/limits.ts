// The `limits:` of mailroom.yaml in bytes (docs/spec.md §6: sizes a far side or a local writer
// controls are bounded). Defaults apply where no configuration is at hand.

import { parseSize } from '../size.js';
import type { Config } from './schema.js';

export interface Limits {
  /** One task file, read whole. */
  taskFile: number;
  /** One plain file (`<id>.files/…`, AGENT.md), streamed. */
  attachmentFile: number;
  /** Bytes read from one host in one sync pass. */
  syncPass: number;
}

export const DEFAULT_LIMITS: Limits = {
  taskFile: 4 * 1024 ** 2,
  attachmentFile: 256 * 1024 ** 2,
  syncPass: 1024 ** 3,
};

export function limitsOf(config: Pick<Config, 'limits'> | undefined): Limits {
  const l = config?.limits;
  if (!l) return DEFAULT_LIMITS;
  return {
    taskFile: parseSize(l.task_file) ?? DEFAULT_LIMITS.taskFile,
    attachmentFile: parseSize(l.attachment_file) ?? DEFAULT_LIMITS.attachmentFile,
    syncPass: parseSize(l.sync_pass) ?? DEFAULT_LIMITS.syncPass,
  };
}
