import { ActorRef, createThreadline, runWithAuditContext } from '@threadline/core';
import { expect, it } from 'vitest';
import { describeWithDatabase, runCli, sql, tempDir } from './helpers.js';

describeWithDatabase('threadline storage', (db) => {
  const env = () => ({ DATABASE_URL: db().url });

  it('status shows partitions; with rows in the default partition it exits 1 and maintain moves them', async () => {
    const tl = createThreadline({ db: db().pool });
    await tl.install();
    await db().pool.query('create table cli_sto (id int primary key)');
    await tl.installTriggers({ tables: ['cli_sto'] });
    for (let i = 1; i <= 3; i++) {
      await runWithAuditContext({ actor: ActorRef.user('w') }, () =>
        tl.transaction((tx) => tx.query('insert into cli_sto values ($1)', [i])),
      );
    }
    const cwd = tempDir();
    const ok = await runCli(['storage', 'status', '--json'], { env: env(), cwd });
    expect(ok.code).toBe(0);
    const status = JSON.parse(ok.stdout);
    expect(status).toMatchObject({ layout: 'partitioned', partition: 'month', defaultPartitionRows: 0 });
    expect(status.partitions.filter((p: { isDefault: boolean }) => !p.isDefault)).toHaveLength(3);

    // Rows no range partition takes (captured long ago) sit in the default partition.
    await sql(
      db(),
      `update threadline.audit_changes set captured_at = captured_at - interval '200 days' where (table_pk->>'id')::int <= 2`,
    );
    const before = await sql(db(), 'select id, captured_at from threadline.audit_changes order by id');
    const stale = await runCli(['storage', 'status'], { env: env(), cwd });
    expect(stale.code).toBe(1);
    expect(stale.stdout.split('\n')[0]).toMatch(
      /^audit_changes in schema "threadline": partitioned \(configured: month\)/,
    );
    expect(stale.stderr).toContain('the default partition holds 2 changes');
    expect(stale.stderr).toContain('threadline storage maintain');

    const maintain = await runCli(['storage', 'maintain'], { env: env(), cwd });
    expect(maintain.code).toBe(0);
    expect(maintain.stderr).toMatch(
      /moved 2 changes into audit_changes_\d{8}; 0 left in the default partition/,
    );
    expect(maintain.stdout).toMatch(/moved 2 changes out of the default partition \(0 left\)/);
    expect(await sql(db(), 'select id, captured_at from threadline.audit_changes order by id')).toEqual(
      before,
    );
    const fine = await runCli(['storage', 'status'], { env: env(), cwd });
    expect(fine.code).toBe(0);
    expect(fine.stdout).toMatch(/audit_changes_default\s+DEFAULT/);
  });

  it('refuses a bad storage config naming the key', async () => {
    const cwd = tempDir({ 'threadline.config.json': JSON.stringify({ storage: { partition: 'hour' } }) });
    const run = await runCli(['storage', 'status'], { env: env(), cwd });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "threadline.config.json: storage.partition must be one of 'none', 'day', 'week', 'month'",
    );
  });
});
