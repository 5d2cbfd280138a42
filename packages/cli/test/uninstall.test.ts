import { expect, it } from 'vitest';
import { describeWithDatabase, runCli, sql } from './helpers.js';

describeWithDatabase('threadline uninstall', (db) => {
  const env = () => ({ DATABASE_URL: db().url });

  it('is a dry run by default, --apply removes capture and keeps the audit data, --drop-data drops it', async () => {
    await sql(db(), 'CREATE TABLE un_posts (id int PRIMARY KEY, title text)');
    expect((await runCli(['install', '--apply'], { env: env() })).code).toBe(0);
    await sql(db(), "SELECT threadline.enable_capture('public', 'un_posts')");
    await sql(db(), "INSERT INTO un_posts VALUES (1, 'kept')");
    const captureObjects = () =>
      sql(
        db(),
        `SELECT (SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'un_posts'::regclass) AS triggers,
                (SELECT count(*)::int FROM pg_event_trigger WHERE evtname LIKE 'threadline\\_%') AS events`,
      );
    const dry = await runCli(['uninstall'], { env: env() });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('DROP TRIGGER IF EXISTS "threadline_capture_insert" ON public.un_posts;');
    expect(dry.stderr).toContain(
      'dry run: nothing changed. 1 table(s) would stop being audited; audit data would be kept.',
    );
    expect(await captureObjects()).toEqual([{ triggers: 5, events: 2 }]); // four capture triggers and the statement-start trigger

    const applied = await runCli(['uninstall', '--apply'], { env: env() });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('1 table(s) no longer audited; audit data kept in schema "threadline"');
    expect(await captureObjects()).toEqual([{ triggers: 0, events: 0 }]);
    await sql(db(), "INSERT INTO un_posts VALUES (2, 'not captured'); ALTER TABLE un_posts ADD COLUMN x int");
    expect(await sql(db(), 'SELECT table_pk FROM threadline.audit_changes ORDER BY id')).toEqual([
      { table_pk: { id: 1 } },
    ]);

    const dropped = await runCli(['uninstall', '--apply', '--drop-data', '--json'], { env: env() });
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(JSON.parse(dropped.stdout)).toMatchObject({ applied: true, dropData: true, tables: [] });
    expect(await sql(db(), "SELECT to_regnamespace('threadline') IS NULL AS gone")).toEqual([{ gone: true }]);
  });
});
