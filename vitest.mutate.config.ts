import { defineConfig } from 'vitest/config';

// The tests Stryker runs against each mutant (`npm run mutate`): the unit tests of the pure modules it mutates
// and the package tests that reach them (validation, discovery, Python names, the ignore rules; coverage shows
// folder.test.ts and sources.test.ts reach the ignore rules through buildPackage). No globalSetup: none of these
// starts a server or needs the sandbox CA.
export default defineConfig({
  test: {
    include: [
      '__tests__/unit/**/*.test.ts',
      '__tests__/package/validate.test.ts',
      '__tests__/package/discovery.test.ts',
      '__tests__/package/folder.test.ts',
      '__tests__/package/sources.test.ts',
      '__tests__/package/validate-rules.test.ts',
      '__tests__/package/ignore-rules.test.ts',
      '__tests__/package/python.test.ts',
    ],
    pool: 'forks',
    testTimeout: 60_000,
  },
});
