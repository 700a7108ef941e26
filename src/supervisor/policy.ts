// The supervisor's policy as read from mailroom.yaml (docs/spec.md §5). Kept apart from decide.ts so the
// rules stay a function of plain data, and tests can state a policy without writing a config file.

import type { Config } from '../config/schema.js';
import { parseDurationMs } from '../duration.js';
import { usageError } from '../errors.js';
import type { SupervisorPolicy } from './decide.js';

export function policyFromConfig(config: Config): SupervisorPolicy {
  const retryBackoffMs = parseDurationMs(config.retry_backoff);
  // The config schema already refuses a bad duration; this guards a Config built some other way.
  if (retryBackoffMs === undefined) {
    throw usageError(
      `retry_backoff: ${JSON.stringify(config.retry_backoff)} is not a duration`,
      'durations look like 90s, 5m, 2h or 1d',
    );
  }
  return {
    escalateTo: config.escalate_to,
    onStuck: config.on_stuck,
    retryBackoffMs,
    retryElsewhere: config.retry_elsewhere,
    agents: config.agents,
  };
}
