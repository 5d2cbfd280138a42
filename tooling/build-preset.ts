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

/** vitest `test` options: real services are shared, so test files run one at a time. */
export function packageTests(options: { globalSetup?: string[]; exclude?: string[] } = {}) {
  return {
    include: ['test/**/*.test.ts'],
    ...(options.exclude ? { exclude: options.exclude } : {}),
    globalSetup: options.globalSetup ?? [POSTGRES_SETUP],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  };
}
