import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Runs the package's own tests (../*.test.ts) with every @nestjs/* import redirected to this
// folder's NestJS 11 install. Nest's packages then resolve each other here too (pnpm links their
// peers per importer), so the whole app runs on Nest 11.
const here = dirname(fileURLToPath(import.meta.url));
const nest = (name: string) => realpathSync(join(here, 'node_modules/@nestjs', name));

const heavy = process.env.npm_lifecycle_event === 'test:heavy';

export default defineConfig({
  root: join(here, '..'),
  resolve: {
    alias: Object.fromEntries(
      ['common', 'core', 'platform-express', 'schedule', 'bullmq'].map((n) => [`@nestjs/${n}`, nest(n)]),
    ),
  },
  test: {
    // Its `test:heavy` script runs the heavy files only (tooling/build-preset.ts).
    include: heavy ? ['*.heavy.test.ts'] : ['*.test.ts', 'nest11/*.test.ts'],
    exclude: heavy ? [] : ['dist.test.ts', '*.heavy.test.ts'],
    globalSetup: [join(here, '../../../test-utils/src/global-setup.ts')],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
