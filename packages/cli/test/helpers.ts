import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, postgresEnabled, type TestDatabase } from '@threadline/test-utils';
import { afterAll, beforeAll, describe } from 'vitest';
import { main } from '../src/index.js';

export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(PACKAGE_DIR, 'bin', 'threadline.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in-process with captured output. `env` replaces the environment entirely. */
export async function runCli(
  argv: string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; tty?: boolean } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const isTTY = options.tty === true;
  const code = await main(argv, {
    stdout: { isTTY, write: (s: string) => (stdout += s) },
    stderr: { isTTY, write: (s: string) => (stderr += s) },
    env: options.env ?? {},
    cwd: options.cwd ?? tempDir(),
  });
  return { code, stdout, stderr };
}

/**
 * A fresh directory inside the package (ignored by git and biome), so config files in it can
 * import '@threadline/cli' by name (a package may import itself through its exports map).
 */
export function tempDir(files: Record<string, string> = {}): string {
  const root = join(PACKAGE_DIR, '.tl-tmp');
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(join(root, 'run-'));
  for (const [name, contents] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), contents);
  }
  return dir;
}

/** The built package (dist) is needed by the real bin and by configs that import the package. */
export function ensureBuilt(): void {
  if (existsSync(join(PACKAGE_DIR, 'dist', 'index.js')) && existsSync(join(PACKAGE_DIR, 'dist', 'index.cjs')))
    return;
  execFileSync('pnpm', ['exec', 'tsup'], { cwd: PACKAGE_DIR, stdio: 'ignore' });
}

/**
 * A describe block with its own fresh database on the real PostgreSQL; skipped when the server
 * is not there (under CI=true the global setup fails instead).
 */
export function describeWithDatabase(name: string, suite: (db: () => TestDatabase) => void): void {
  describe.skipIf(!postgresEnabled())(name, () => {
    let database: TestDatabase | undefined;
    beforeAll(async () => {
      database = await createTestDatabase('tl_cli');
    });
    afterAll(async () => {
      await database?.drop();
    });
    suite(() => {
      if (!database) throw new Error('test database not created yet');
      return database;
    });
  });
}

/** Rows of one query on the test database. */
export async function sql<R = Record<string, unknown>>(
  db: TestDatabase,
  text: string,
  params?: unknown[],
): Promise<R[]> {
  return (await db.pool.query(text, params)).rows as R[];
}

/** Capture triggers (not internal ones) in the database. */
export async function triggerCount(db: TestDatabase): Promise<number> {
  const rows = await sql<{ n: string }>(db, 'SELECT count(*) AS n FROM pg_trigger WHERE NOT tgisinternal');
  return Number(rows[0]!.n);
}
