import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_VERSION } from '@threadline/core/internal';
import { beforeAll, expect, it } from 'vitest';
import { BIN, describeWithDatabase, ensureBuilt, sql, tempDir } from './helpers.js';

function threadline(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const { PATH, HOME } = process.env;
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? tempDir(),
    env: { PATH, HOME, ...options.env },
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describeWithDatabase('the threadline binary', (db) => {
  beforeAll(() => ensureBuilt());

  it('prints its version and exits 2 on an unknown flag', () => {
    const version = threadline(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(
      JSON.parse(readFileSync(join(BIN, '..', '..', 'package.json'), 'utf8')).version,
    );
    const bad = threadline(['install', '--nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^threadline: unknown option "--nope"\nusage: threadline install/);
  });

  it('installs, applies triggers from a TypeScript config, and the process exits by itself', async () => {
    await sql(db(), 'CREATE TABLE posts (id int PRIMARY KEY, body text)');
    const cwd = tempDir({
      'threadline.config.ts': `import { defineConfig } from '@threadline/cli';\nexport default defineConfig({ tables: { posts: { exclude: ['body'] } } });\n`,
    });
    const env = { DATABASE_URL: db().url };
    expect(threadline(['install', '--apply'], { cwd, env }).code).toBe(0);
    const applied = threadline(['gen-triggers', '--apply'], { cwd, env });
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/^posts\s+public\.posts\s+id\s+primary key\s+compiled\s+body\s/m);
    await sql(db(), "INSERT INTO posts VALUES (1, 'secret')");
    expect(await sql(db(), 'SELECT data_after FROM threadline.audit_changes')).toEqual([
      { data_after: { id: 1 } },
    ]);
  });

  it('exits 1 with one line on stderr when a table is missing, and 2 when the server is unreachable', () => {
    const missing = threadline(['gen-triggers', '--dry-run', '--tables', 'nope'], {
      env: { DATABASE_URL: db().url },
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    const unreachable = threadline([
      'install',
      '--apply',
      '--database-url',
      'postgres://postgres@127.0.0.1:1/x',
    ]);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(/^threadline: could not connect to PostgreSQL at 127\.0\.0\.1:1\/x/);
  });

  it('writes the install SQL to stdout so it can be redirected into psql', async () => {
    const run = threadline(['install', '--schema', 'from_stdout']);
    expect(run.code).toBe(0);
    await db().pool.query(run.stdout);
    expect(await sql(db(), 'SELECT version FROM from_stdout.schema_version')).toEqual([
      { version: SCHEMA_VERSION },
    ]);
  });
});
