import { beforeAll, expect, it } from 'vitest';
import { describeWithDatabase, runCli, sql, tempDir, triggerCount } from './helpers.js';

describeWithDatabase('threadline gen-triggers', (db) => {
  const env = () => ({ DATABASE_URL: db().url });

  beforeAll(async () => {
    await db().pool.query(`
      CREATE TABLE posts (id bigserial PRIMARY KEY, title text NOT NULL, email text);
      CREATE SCHEMA billing;
      CREATE TABLE billing.invoices (region text, number int, note text, PRIMARY KEY (region, number));
      CREATE TABLE "Accounts" (id int PRIMARY KEY, name text);
      CREATE TABLE "odd.name,1" (id int PRIMARY KEY);
      CREATE SCHEMA "dot.schema";
      CREATE TABLE "dot.schema"."t,x" (id int PRIMARY KEY);
      CREATE TABLE keyless (a int, b int);
      CREATE VIEW post_titles AS SELECT id, title FROM posts;
    `);
  });

  it('--dry-run before install shows the plan and changes nothing', async () => {
    const triggers = await triggerCount(db());
    const run = await runCli(['gen-triggers', '--dry-run', '--tables', 'posts,billing.invoices'], {
      env: env(),
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^table\s+triggers on\s+key\s+key from\s+mode\s+exclude\s+mask\s+exceptColumns\s+changedFrom\s+deleteSnapshot$/,
    );
    expect(lines[2]).toMatch(/^posts\s+public\.posts\s+id\s+primary key\s+compiled\s+-\s+-\s+-\s+yes\s+yes$/);
    expect(lines[3]).toMatch(
      /^billing\.invoices\s+billing\.invoices\s+region, number\s+primary key\s+compiled/,
    );
    expect(run.stdout).toMatch(/\ndry run: nothing was changed\n$/);
    expect(await triggerCount(db())).toBe(triggers);
    expect(await sql(db(), "SELECT to_regnamespace('threadline') AS ns")).toEqual([{ ns: null }]);
  });

  it('refuses to --apply before install (exit 1, says to run install)', async () => {
    const run = await runCli(['gen-triggers', '--apply', '--tables', 'posts'], { env: env() });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^threadline: .*not installed.*threadline install --apply/);
  });

  it('--dry-run after install changes nothing and --show-sql prints the generated function', async () => {
    expect((await runCli(['install', '--apply'], { env: env() })).code).toBe(0);
    const triggers = await triggerCount(db());
    const registry = await sql(db(), 'SELECT count(*)::int AS n FROM threadline.captured_tables');
    const run = await runCli(['gen-triggers', '--dry-run', '--show-sql', '--tables', 'posts'], {
      env: env(),
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('-- capture function for posts (compiled mode)');
    expect(run.stdout).toMatch(/CREATE OR REPLACE FUNCTION "?threadline"?\.\S+\(\) RETURNS trigger/);
    expect(await triggerCount(db())).toBe(triggers);
    expect(await sql(db(), 'SELECT count(*)::int AS n FROM threadline.captured_tables')).toEqual(registry);
  });

  it('--apply installs triggers in one go and a write is captured', async () => {
    const before = await triggerCount(db());
    const run = await runCli(['gen-triggers', '--apply', '--tables', 'posts,billing.invoices'], {
      env: env(),
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^posts\s+public\.posts\s+id\s+primary key\s+compiled/m);
    expect(run.stdout).toContain('capture installed on 2 tables (one transaction)');
    // five per table: insert, update, delete, truncate and the BEFORE STATEMENT trigger that dates the statement
    expect(await triggerCount(db())).toBe(before + 10);
    await sql(db(), "INSERT INTO billing.invoices VALUES ('eu', 7, 'first')");
    const changes = await sql(
      db(),
      "SELECT op, table_pk, data_after FROM threadline.audit_changes WHERE table_name = 'invoices'",
    );
    expect(changes).toEqual([
      {
        op: 'insert',
        table_pk: { region: 'eu', number: 7 },
        data_after: { region: 'eu', number: 7, note: 'first' },
      },
    ]);
  });

  it('takes tables and their options from the config when --tables is not given', async () => {
    const cwd = tempDir({
      'threadline.config.json': JSON.stringify({
        tables: { posts: { mask: ['email'], exceptColumns: ['title'] } },
      }),
    });
    const dry = await runCli(['gen-triggers', '--dry-run'], { cwd, env: env() });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      /^posts\s+public\.posts\s+id\s+primary key\s+compiled\s+-\s+email \(as \[REDACTED\]\)\s+title\s+yes\s+yes$/m,
    );
    expect((await runCli(['gen-triggers', '--apply'], { cwd, env: env() })).code).toBe(0);
    await sql(db(), "INSERT INTO posts (title, email) VALUES ('hello', 'a@example.com')");
    const rows = await sql<{ data_after: Record<string, unknown> }>(
      db(),
      "SELECT data_after FROM threadline.audit_changes WHERE table_name = 'posts' ORDER BY id DESC LIMIT 1",
    );
    expect(rows[0]!.data_after).toMatchObject({ title: 'hello', email: '[REDACTED]' });
  });

  it("--json prints one document with core's plans", async () => {
    const dry = await runCli(['gen-triggers', '--dry-run', '--json', '--tables', 'billing.invoices'], {
      env: env(),
    });
    expect(dry.code).toBe(0);
    const doc = JSON.parse(dry.stdout);
    expect(doc.dryRun).toBe(true);
    expect(doc.plans).toHaveLength(1);
    expect(doc.plans[0]).toMatchObject({
      table: { schema: 'billing', name: 'invoices' },
      mode: 'compiled',
      relations: ['billing.invoices'],
      keyColumns: ['region', 'number'],
      keySource: 'primary key',
      options: { exclude: [], mask: [], changedFrom: true, deleteSnapshot: true },
    });
    expect(doc.plans[0].functionSql).toBeUndefined();
    const withSql = JSON.parse(
      (
        await runCli(['gen-triggers', '--dry-run', '--json', '--show-sql', '--tables', 'posts'], {
          env: env(),
        })
      ).stdout,
    );
    expect(withSql.plans[0].functionSql).toContain('CREATE OR REPLACE FUNCTION');
    const applied = JSON.parse(
      (await runCli(['gen-triggers', '--apply', '--json', '--tables', 'posts'], { env: env() })).stdout,
    );
    expect(applied).toMatchObject({
      dryRun: false,
      plans: [{ table: { schema: 'public', name: 'posts' }, keyColumns: ['id'] }],
    });
  });

  it('exits 1 for a missing table and names it', async () => {
    const run = await runCli(['gen-triggers', '--dry-run', '--tables', 'posts,billing.nope'], { env: env() });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^threadline: table billing\.nope does not exist/);
    expect(run.stdout).toBe('');
  });

  it('exits 1 for a view and for a table without a key (capture refused)', async () => {
    const view = await runCli(['gen-triggers', '--apply', '--tables', 'post_titles'], { env: env() });
    expect(view.code).toBe(1);
    expect(view.stderr).toContain('public.post_titles is a view');
    const keyless = await runCli(['gen-triggers', '--dry-run', '--tables', 'keyless'], { env: env() });
    expect(keyless.code).toBe(1);
    expect(keyless.stderr).toContain('public.keyless has no primary key');
  });

  it('matches names exactly: mixed case, and quoted names with dots and commas', async () => {
    const lower = await runCli(['gen-triggers', '--dry-run', '--tables', 'accounts'], { env: env() });
    expect(lower.code).toBe(1);
    expect(lower.stderr).toContain('table public.accounts does not exist');
    const run = await runCli(
      ['gen-triggers', '--apply', '--tables', 'Accounts,"odd.name,1","dot.schema"."t,x"'],
      { env: env() },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Accounts\s+public\."Accounts"\s+id/m);
    expect(run.stdout).toMatch(/^"odd\.name,1"\s+public\."odd\.name,1"\s+id/m);
    expect(run.stdout).toMatch(/^"dot\.schema"\."t,x"\s+"dot\.schema"\."t,x"\s+id/m);
    await sql(db(), 'INSERT INTO "dot.schema"."t,x" VALUES (1); INSERT INTO "Accounts" VALUES (5, \'x\')');
    const captured = await sql(
      db(),
      "SELECT table_schema, table_name FROM threadline.audit_changes WHERE table_name IN ('t,x', 'Accounts') ORDER BY id",
    );
    expect(captured).toEqual([
      { table_schema: 'dot.schema', table_name: 't,x' },
      { table_schema: 'public', table_name: 'Accounts' },
    ]);
  });

  it('shows progress on a TTY, and none with --json', async () => {
    const tty = await runCli(['gen-triggers', '--apply', '--tables', 'posts,billing.invoices'], {
      env: env(),
      tty: true,
    });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toContain('applying 1/2 posts');
    expect(tty.stderr).toContain('applying 2/2 billing.invoices');
    const json = await runCli(['gen-triggers', '--apply', '--json', '--tables', 'posts'], {
      env: env(),
      tty: true,
    });
    expect(json.stderr).toBe('');
    const piped = await runCli(['gen-triggers', '--apply', '--tables', 'posts'], { env: env() });
    expect(piped.stderr).toBe('');
  });
});
