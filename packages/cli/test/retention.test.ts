import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ActorRef, createThreadline, runWithAuditContext } from '@threadline/core';
import { expect, it } from 'vitest';
import { describeWithDatabase, runCli, sql, tempDir } from './helpers.js';

const CONFIG = JSON.stringify({ retention: { enabled: true, keepDays: 30, sleepMs: 0 } });

describeWithDatabase('threadline retention', (db) => {
  const env = () => ({ DATABASE_URL: db().url });

  it('refuses purge without --dry-run or --execute, with both, bad numbers and a bad policy (exit 2)', async () => {
    const cwd = tempDir({ 'threadline.config.json': CONFIG });
    for (const args of [
      [],
      ['--dry-run', '--execute'],
      ['--dry-run', '--batch-size', '0'],
      ['--execute', '--max-batches', 'x'],
    ]) {
      const run = await runCli(['retention', 'purge', ...args], { env: env(), cwd });
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/--dry-run|--batch-size|--max-batches/);
    }
    const bad = tempDir({
      'threadline.config.json': JSON.stringify({
        retention: { enabled: true, keepDays: 30, maxAgeSeconds: 5 },
      }),
    });
    const run = await runCli(['retention', 'purge', '--dry-run'], { env: env(), cwd: bad });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('threadline.config.json: retention: give exactly one window');
    const none = await runCli(['retention', 'purge', '--dry-run'], { env: env(), cwd: tempDir() });
    expect(none.stderr).toContain('no retention policy');
  });

  it('dry run, then execute, then lists the runs', async () => {
    const tl = createThreadline({ db: db().pool });
    await tl.install();
    await db().pool.query('create table cli_ret (id int primary key)');
    await tl.installTriggers({ tables: ['cli_ret'] });
    for (let i = 1; i <= 4; i++) {
      await runWithAuditContext({ actor: ActorRef.user('w') }, () =>
        tl.transaction((tx) => tx.query('insert into cli_ret values ($1)', [i])),
      );
    }
    await sql(
      db(),
      `update threadline.audit_changes set captured_at = captured_at - interval '60 days' where (table_pk->>'id')::int <= 3`,
    );
    await sql(
      db(),
      `update threadline.audit_transactions set occurred_at = occurred_at - interval '60 days' where id in (select transaction_id from threadline.audit_changes where (table_pk->>'id')::int <= 3)`,
    );
    const cwd = tempDir({ 'threadline.config.json': CONFIG });
    const dry = await runCli(['retention', 'purge', '--dry-run', '--json'], { env: env(), cwd });
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      dryRun: true,
      deletedChanges: 3,
      deletedTransactions: 3,
      complete: true,
    });
    const run = await runCli(['retention', 'purge', '--execute', '--batch-size', '2'], { env: env(), cwd });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^Deleted 3 changes, 3 transactions and 0 actions captured before \S+ \(run #\d+, 0 whole partitions dropped, 4 batches\)\.\n$/,
    );
    expect(await sql(db(), "select (table_pk->>'id')::int as id from threadline.audit_changes")).toEqual([
      { id: 4 },
    ]);
    const runs = await runCli(['retention', 'runs', '--json'], { env: env(), cwd });
    expect(
      JSON.parse(runs.stdout).map((r: { status: string; dryRun: boolean; deletedChanges: number }) => [
        r.status,
        r.dryRun,
        r.deletedChanges,
      ]),
    ).toEqual([
      ['completed', false, 3],
      ['completed', true, 3],
    ]);
    const table = await runCli(['retention', 'runs'], { env: env(), cwd });
    expect(table.stdout.split('\n')[0]).toMatch(/^run\s+started\s+status\s+dry run\s+cutoff\s+changes/);
    const newer = await runCli(['retention', 'purge', '--execute', '--cutoff', new Date().toISOString()], {
      env: env(),
      cwd,
    });
    expect(newer.code).toBe(2);
    expect(newer.stderr).toContain('newer than the policy allows');
  });

  it('--execute with retention.archive writes the archive first and says where it went', async () => {
    const tl = createThreadline({ db: db().pool });
    await tl.install();
    await db().pool.query('create table cli_arch (id int primary key)');
    await tl.installTriggers({ tables: ['cli_arch'] });
    for (let i = 1; i <= 3; i++) {
      await runWithAuditContext({ actor: ActorRef.user('w') }, () =>
        tl.transaction((tx) => tx.query('insert into cli_arch values ($1)', [i])),
      );
    }
    await sql(
      db(),
      `update threadline.audit_transactions set occurred_at = occurred_at - interval '60 days' where id in (select transaction_id from threadline.audit_changes where table_name = 'cli_arch')`,
    );
    await sql(
      db(),
      `update threadline.audit_changes set captured_at = captured_at - interval '60 days' where table_name = 'cli_arch'`,
    );
    const archive = { dir: 'audit-archive' };
    const cwd = tempDir({
      'threadline.config.json': JSON.stringify({
        retention: { enabled: true, keepDays: 30, sleepMs: 0, archive },
      }),
    });
    const run = await runCli(['retention', 'purge', '--execute', '--batch-size', '2'], { env: env(), cwd });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /\nArchived 3 changes before deleting them: 2 gzip NDJSON parts in \S+\/audit-archive \(threadline-archive-run\d+-part000001\.ndjson\.gz … threadline-archive-run\d+-part000002\.ndjson\.gz\), each with a \.manifest\.json/,
    );
    const files = readdirSync(join(cwd, 'audit-archive'));
    expect(files.filter((f) => f.endsWith('.ndjson.gz'))).toHaveLength(2);
    expect(
      await sql(
        db(),
        "select count(*)::int as n from threadline.audit_changes where table_name = 'cli_arch'",
      ),
    ).toEqual([{ n: 0 }]);

    const bad = tempDir({
      'threadline.config.json': JSON.stringify({
        retention: { enabled: true, keepDays: 30, archive: { dir: 'x', gzip: true } },
      }),
    });
    const refused = await runCli(['retention', 'purge', '--execute'], { env: env(), cwd: bad });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('retention.archive: unknown key "gzip"; the known keys are dir, format');
  });
});
