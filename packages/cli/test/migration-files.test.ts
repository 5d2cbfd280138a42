import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestDatabase } from '@threadline/test-utils';
import knexFactory from 'knex';
import { DataSource, type MigrationInterface } from 'typeorm';
import { expect, it } from 'vitest';
import { describeWithDatabase, runCli, sql, tempDir } from './helpers.js';

const CONFIG = JSON.stringify({ tables: { posts: { mask: ['email'] }, 'billing.invoices': {} } });

/** Write the install and trigger migrations for `format` with the CLI; returns the directory. */
async function writeMigrations(format: string): Promise<string> {
  const cwd = tempDir({ 'threadline.config.json': CONFIG });
  for (const command of ['install', 'gen-triggers']) {
    const run = await runCli([command, '--out', 'migrations', '--format', format], { cwd });
    expect(run.code, run.stderr).toBe(0);
  }
  const dir = join(cwd, 'migrations');
  expect(readdirSync(dir)).toHaveLength(2);
  return dir;
}

async function createTables(db: TestDatabase): Promise<void> {
  await db.pool.query(`
    CREATE TABLE posts (id serial PRIMARY KEY, title text, email text);
    CREATE SCHEMA billing;
    CREATE TABLE billing.invoices (region text, number int, PRIMARY KEY (region, number));
  `);
}

/** After the migrations ran, writes to both tables are captured with their real keys and redaction. */
async function expectCapture(db: TestDatabase): Promise<void> {
  await sql(db, "INSERT INTO posts (title, email) VALUES ('hi', 'a@example.com')");
  await sql(db, "INSERT INTO billing.invoices VALUES ('eu', 1)");
  const rows = await sql(
    db,
    'SELECT table_name, table_pk, data_after FROM threadline.audit_changes ORDER BY id',
  );
  expect(rows).toEqual([
    { table_name: 'posts', table_pk: { id: 1 }, data_after: { id: 1, title: 'hi', email: '[REDACTED]' } },
    {
      table_name: 'invoices',
      table_pk: { region: 'eu', number: 1 },
      data_after: { region: 'eu', number: 1 },
    },
  ]);
}

describeWithDatabase('sql migration files', (db) => {
  it('run with node-postgres, install file first, and capture works', async () => {
    await createTables(db());
    const dir = await writeMigrations('sql');
    const files = readdirSync(dir).sort();
    expect(files[0]).toMatch(/_threadline_install\.sql$/);
    for (const file of files) await db().pool.query(readFileSync(join(dir, file), 'utf8'));
    await expectCapture(db());
  });
});

describeWithDatabase('knex migration files', (db) => {
  it('run with knex.migrate.latest and capture works', async () => {
    await createTables(db());
    const dir = await writeMigrations('knex');
    const knex = knexFactory({ client: 'pg', connection: db().url, pool: { min: 0, max: 2 } });
    try {
      const [batch, applied] = await knex.migrate.latest({ directory: dir });
      expect(batch).toBe(1);
      expect(applied).toHaveLength(2);
    } finally {
      await knex.destroy();
    }
    await expectCapture(db());
  });
});

describeWithDatabase('typeorm migration files', (db) => {
  it('run with DataSource.runMigrations and capture works', async () => {
    await createTables(db());
    const dir = await writeMigrations('typeorm');
    const classes: (new () => MigrationInterface)[] = [];
    for (const file of readdirSync(dir).sort()) {
      const module = (await import(join(dir, file))) as Record<string, new () => MigrationInterface>;
      classes.push(...Object.values(module));
    }
    const dataSource = new DataSource({ type: 'postgres', url: db().url, migrations: classes });
    await dataSource.initialize();
    try {
      const applied = await dataSource.runMigrations();
      expect(applied.map((m) => m.name)).toEqual([
        expect.stringMatching(/^ThreadlineInstall\d{13}$/),
        expect.stringMatching(/^ThreadlineTriggers.*\d{13}$/),
      ]);
    } finally {
      await dataSource.destroy();
    }
    await expectCapture(db());
  });
});
