import { defineConfig } from 'vitest/config';
import { packageTests } from '../../tooling/build-preset.js';

export default defineConfig({
  test: packageTests({
    // test/nest11 re-runs these tests on NestJS 11 with its own config (its own workspace package).
    exclude: ['test/nest11/**', '**/node_modules/**'],
  }),
});
