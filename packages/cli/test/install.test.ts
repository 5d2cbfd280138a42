import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA_VERSION } from '@threadline/core/internal';
import { expect, it } from 'vitest';
import { describeWithDatabase, runCli, sql, tempDir } from './helpers.js';

describeWithDatabase('threadline install', (db) => {
  const env = () => ({ DATABASE_URL: db().url });

  it('--apply installs, and running it again changes nothing', async () => {
    const first = await runCli(['install', '--apply'], { env: env() });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(
      `Threadline is installed in schema "threadline" (schema version ${SCHEMA_VERSION}).`,
    );
    expect(first.stdout).toContain('DDL sync: active.');
    const objects = async () =>
      sql(
        db(),
        "SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'threadline'",
      );
    const before = await objects();
    const second = await runCli(['install', '--apply'], { env: env() });
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(await objects()).toEqual(before);
    expect(await sql(db(), 'SELECT version FROM threadline.schema_version')).toEqual([
      { version: SCHEMA_VERSION },
    ]);
  });

  it("--json prints core's install result", async () => {
    const run = await runCli(['install', '--apply', '--json', '--schema', 'audit'], { env: env() });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      schema: 'audit',
      schemaVersion: SCHEMA_VERSION,
      ddlSync: true,
      findings: [],
      storage: { partition: 'month', layout: 'partitioned', migrationPending: false },
    });
  });

  it('--out writes one migration per format into a new directory, versions sorting after existing files', async () => {
    const cwd = tempDir();
    const expected = {
      sql: /^\d{14}_threadline_install\.sql$/,
      knex: /^\d{14}_threadline_install\.cjs$/,
      typeorm: /^\d{13}-ThreadlineInstall\.ts$/,
    };
    for (const [format, pattern] of Object.entries(expected)) {
      const dir = join('migrations', format);
      const first = await runCli(['install', '--out', dir, '--format', format], { cwd });
      expect(first.code, first.stderr).toBe(0);
      const second = await runCli(['install', '--out', dir, '--format', format, '--json'], { cwd });
      const files = readdirSync(join(cwd, dir)).sort();
      expect(files).toHaveLength(2);
      for (const file of files) expect(file).toMatch(pattern);
      expect(first.stdout.trim()).toBe(join(dir, files[0]!));
      expect(JSON.parse(second.stdout)).toEqual({
        kind: 'install',
        format,
        schema: 'threadline',
        file: join(cwd, dir, files[1]!),
      });
      expect(readFileSync(join(cwd, dir, files[0]!), 'utf8')).toMatch(
        /CREATE SCHEMA IF NOT EXISTS \\?"threadline\\?"/,
      );
    }
  });

  it('--out uses the schema from the config', async () => {
    const cwd = tempDir({ 'threadline.config.json': '{ "schema": "audit_trail" }' });
    const run = await runCli(['install', '--out', 'm'], { cwd });
    expect(run.code).toBe(0);
    expect(readFileSync(join(cwd, run.stdout.trim()), 'utf8')).toContain(
      'CREATE SCHEMA IF NOT EXISTS "audit_trail"',
    );
    expect(existsSync(join(cwd, 'm'))).toBe(true);
  });
});

describeWithDatabase('threadline install by a role that may not create event triggers', (db) => {
  // A database of its own: an install by a superuser elsewhere in it would not be portable.
  it('explains portable mode when the role may not create event triggers', async () => {
    const role = `tl_cli_app_${randomBytes(4).toString('hex')}`;
    await sql(db(), `CREATE ROLE ${role} LOGIN`);
    await sql(db(), `GRANT CREATE ON DATABASE "${db().name}" TO ${role}`);
    try {
      const url = new URL(db().url);
      url.username = role;
      const run = await runCli(['install', '--apply', '--schema', 'app_audit'], {
        env: { DATABASE_URL: url.toString() },
      });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('DDL sync: not active. This database role may not create event triggers');
      expect(run.stdout).toContain('portable mode');
      const json = await runCli(['install', '--apply', '--schema', 'app_audit', '--json'], {
        env: { DATABASE_URL: url.toString() },
      });
      expect(JSON.parse(json.stdout).ddlSync).toBe(false);
    } finally {
      await sql(db(), 'DROP SCHEMA IF EXISTS app_audit CASCADE');
      await sql(db(), `REVOKE ALL ON DATABASE "${db().name}" FROM ${role}`);
      await sql(db(), `DROP ROLE ${role}`);
    }
  });
});
