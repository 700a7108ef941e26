import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';
import { policyFromConfig } from '../../src/supervisor/policy.js';
import { expectMailroomError } from '../support/errors.js';

describe('policyFromConfig', () => {
  it('takes the defaults of docs/spec.md §5', () => {
    expect(policyFromConfig(ConfigSchema.parse({ agents: { human: null } }))).toEqual({
      escalateTo: 'human',
      onStuck: 'escalate',
      retryBackoffMs: 60_000,
      retryElsewhere: false,
      agents: { human: null },
    });
  });

  it('reads every supervisor key', () => {
    const config = ConfigSchema.parse({
      agents: { ops: {}, ra: { role: 'research' } },
      escalate_to: 'ops',
      on_stuck: 'reassign',
      retry_backoff: '90s',
      retry_elsewhere: true,
    });
    expect(policyFromConfig(config)).toEqual({
      escalateTo: 'ops',
      onStuck: 'reassign',
      retryBackoffMs: 90_000,
      retryElsewhere: true,
      agents: { ops: {}, ra: { role: 'research' } },
    });
  });

  it('refuses a retry_backoff that is not a duration, naming the key', async () => {
    const config = { ...ConfigSchema.parse({}), retry_backoff: 'soon' };
    await expectMailroomError(async () => policyFromConfig(config), 'usage', /retry_backoff/);
  });
});
