import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Hang guards, not performance limits: the process-heavy tests (30 SIGKILLs, 2,000-file transfers
    // cut 8 times) take about a minute alone and must not fail on a shared, loaded machine.
    testTimeout: 240_000,
    hookTimeout: 120_000,
    // Process- and sshd-based tests are heavy; two cores, so keep parallelism modest.
    maxWorkers: 2,
    // A far agent stays 10 minutes after a pass by default (docs/sync.md, "A far agent that stays"):
    // hundreds of test passes would leave hundreds behind. Tests of it set hosts.<h>.keep_agent.
    env: { MAILROOM_KEEP_AGENT: '0s' },
  },
});
