/**
 * The one build and test setup every published package shares (its tsup.config.ts and
 * vitest.config.ts only name what differs: entries, global setups, exclusions).
 * Plain objects, no imports, so any package can load it by relative path.
 */

/** tsup options: ESM + CommonJS with types for both, source maps, Node 20. */
export function packageBuild(entry: string[], extra: Record<string, unknown> = {}) {
  return {
    entry,
    format: ['esm', 'cjs'] as ('esm' | 'cjs')[],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    ...extra,
  };
}

/** The shared PostgreSQL (and PGlite) setup every package's tests start from. */
export const POSTGRES_SETUP = '../test-utils/src/global-setup.ts';
/** Also needed by packages whose tests use Redis. */
export const REDIS_SETUP = '../test-utils/src/redis-setup.ts';

/**
 * The heavy test files (test/…/*.heavy.test.ts): PgBouncer variants, fault suites, server
 * restarts, throwaway clusters and replicas. `npm test` leaves them out; each package's
 * `test:heavy` script runs only them, and `npm run test:load` runs every package's `test:heavy`
 * (CI runs both: .ci/run).
 */
const HEAVY_TESTS = 'test/**/*.heavy.test.ts';
/** True inside a package's `test:heavy` script (pnpm names the running script). */
const HEAVY_RUN = process.env.npm_lifecycle_event === 'test:heavy';

/**
 * vitest `test` options. Real services are shared, so test files run one at a time unless the
 * package says its files are independent (`workers`): core's files each create their own database
 * and uniquely named roles, and mostly wait on PostgreSQL, so three files at a time on two cores
 * took its suite from 1,082 s to 355 s in one measurement (load 10-14), every file passing.
 */
export function packageTests(
  options: { globalSetup?: string[]; exclude?: string[]; workers?: number; isolate?: boolean } = {},
) {
  const parallel = (options.workers ?? 1) > 1 && !HEAVY_RUN;
  return {
    include: HEAVY_RUN ? [HEAVY_TESTS] : ['test/**/*.test.ts'],
    exclude: [
      ...(options.exclude ?? ['**/node_modules/**', '**/dist/**']),
      ...(HEAVY_RUN ? [] : [HEAVY_TESTS]),
    ],
    globalSetup: options.globalSetup ?? [POSTGRES_SETUP],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: parallel,
    ...(parallel ? { maxWorkers: options.workers } : {}),
    // `isolate: false` runs a worker's test files one after another in one process (a fresh
    // process per file otherwise), for packages whose files leave no module or process state
    // behind: see core's vitest.config.ts. The heavy files always get a process each.
    isolate: HEAVY_RUN || (options.isolate ?? true),
  };
}
