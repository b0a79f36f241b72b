import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['__tests__/**/*.test.ts'],
    globalSetup: ['__tests__/setup/global.ts'],
    pool: 'forks',
    // Two cores, but the sandbox-backed files mostly wait (recycles, lags, polls): four at a time halve the
    // suite's wall time; more start to contend for CPU.
    maxWorkers: 4,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
