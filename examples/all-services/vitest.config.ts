import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: [
      '../../packages/test-utils/src/global-setup.ts',
      '../../packages/test-utils/src/redis-setup.ts',
    ],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
