import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/nest11 re-runs these tests on NestJS 11 with its own config (its own workspace package).
    exclude: ['test/nest11/**', '**/node_modules/**'],
    globalSetup: ['../test-utils/src/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
