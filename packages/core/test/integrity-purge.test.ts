import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { toSqlClient } from '../src/db/sql-client.js';
import { ActorRef, createThreadline, runWithAuditContext, type SqlClient } from '../src/index.js';
import { uniqueName } from './helpers.js';

describeEachDb('integrity: seals and retention runs interleaved', (db) => {
  it('a seal between two batches of a purge run: the rows the later batches remove are purged, not removed', async () => {
    const schema = uniqueName('sealpurge');
    const table = uniqueName('sp');
    await db().exec(`create table ${table} (id int primary key)`);
    const retention = { enabled: true, keepDays: 30, sleepMs: 0 };
    const tl = createThreadline({ db: db().db, schema, retention });
    await tl.install();
    await tl.installTriggers({ tables: [table] });
    for (let i = 1; i <= 25; i++) {
      await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
        tl.transaction((tx) => tx.query(`insert into ${table} values ($1)`, [i])),
      );
    }
    const s = `"${schema}"`;
    // The first 20 changes (and their transactions) are past retention, and not sealed yet.
    await db().exec(`update ${s}.audit_changes set captured_at = captured_at - interval '40 days'
      where id in (select id from ${s}.audit_changes order by id limit 20)`);
    await db().exec(`update ${s}.audit_transactions set occurred_at = occurred_at - interval '40 days'
      where id in (select id from ${s}.audit_transactions order by id limit 20)`);
    // The purging instance's client waits, before each transaction, for a seal started after the
    // run's first batch: the seal runs after the run appended its purge link, between two batches.
    const inner = toSqlClient(db().db);
    let between: Promise<unknown> = Promise.resolve();
    const gated: SqlClient = {
      ...inner,
      kind: 'custom',
      transaction: async (fn, hooks) => {
        await between;
        return inner.transaction(fn, hooks);
      },
    };
    const purger = createThreadline({ db: gated, schema, retention });
    let sealed: Awaited<ReturnType<typeof tl.integrity.seal>> | undefined;
    const run = await purger.retention.purge({
      batchSize: 5,
      onBatch: (p) => {
        if (p.batches === 1)
          between = tl.integrity.seal().then((r) => {
            sealed = r;
          });
      },
    });
    expect(run.deletedChanges).toBe(20);
    // The seal sealed the 15 old changes still there (and 5 new ones), with their transactions: the run removed them after.
    expect(sealed?.sealedRows).toBe(40);
    const [purgeLink] = await db().sql<{ id: string }>(
      `select id::text from ${s}.integrity_seals where kind = 'purge'`,
    );
    expect(sealed!.links.every((l) => BigInt(l.id) > BigInt(purgeLink!.id))).toBe(true);
    let result = await tl.integrity.verify();
    expect(result.counts).toMatchObject({ removed: 0, purged: 30 });
    expect(result.ok).toBe(true);
    expect(result.findings.every((f) => f.retentionRunId === run.runId)).toBe(true);
    // A row newer than every purge cutoff that is gone is still tampering.
    await db().exec(`delete from ${s}.audit_changes where id = (select max(id) from ${s}.audit_changes)`);
    result = await tl.integrity.verify();
    expect(result.ok).toBe(false);
    expect(result.counts).toMatchObject({ removed: 1, purged: 30 });
  });

  /** A schema with n captured transactions (one change each) of which the first `old` are 40 days old. */
  async function setup(prefix: string, n: number, old: number) {
    const schema = uniqueName(prefix);
    const table = uniqueName(`${prefix}t`);
    await db().exec(`create table ${table} (id int primary key)`);
    const tl = createThreadline({
      db: db().db,
      schema,
      retention: { enabled: true, keepDays: 30, sleepMs: 0 },
    });
    await tl.install();
    await tl.installTriggers({ tables: [table] });
    for (let i = 1; i <= n; i++) {
      await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
        tl.transaction((tx) => tx.query(`insert into ${table} values ($1)`, [i])),
      );
    }
    const s = `"${schema}"`;
    await db().exec(`update ${s}.audit_changes set captured_at = captured_at - interval '40 days'
      where id in (select id from ${s}.audit_changes order by id limit ${old})`);
    await db().exec(`update ${s}.audit_transactions set occurred_at = occurred_at - interval '40 days'
      where id in (select id from ${s}.audit_transactions order by id limit ${old})`);
    return { tl, s };
  }

  it('a transaction that retention kept (a change newer than the cutoff) and that is deleted afterwards is removed, not purged', async () => {
    const { tl, s } = await setup('purgekept', 3, 1);
    // Transaction 2 is old but its change is new: a complete purge keeps both.
    await db().exec(`update ${s}.audit_transactions set occurred_at = occurred_at - interval '40 days'
      where id = (select min(id) from ${s}.audit_transactions where occurred_at > now() - interval '1 day')`);
    await tl.integrity.seal();
    const run = await tl.retention.purge();
    expect(run.complete).toBe(true);
    expect(run.deletedTransactions).toBe(1);
    let result = await tl.integrity.verify();
    expect(result.ok).toBe(true);
    expect(result.counts).toMatchObject({ purged: 2, removed: 0 });
    // Someone with write access deletes the kept transaction: its change is left without an actor.
    const [kept] = await db().sql<{ id: string }>(
      `select min(t.id)::text as id from ${s}.audit_transactions t where t.occurred_at < now() - interval '30 days'`,
    );
    await db().exec(`delete from ${s}.audit_transactions where id = ${kept!.id}`);
    result = await tl.integrity.verify();
    expect(result.ok).toBe(false);
    expect(result.counts).toMatchObject({ purged: 2, removed: 1 });
    const removed = result.findings.find((f) => f.kind === 'removed');
    expect(removed).toMatchObject({ relation: 'audit_transactions', id: kept!.id });
    expect(removed!.message).toMatch(/still references it/);
  });

  it('a row deleted below the cutoff of a run that stopped early is removed until a run finishes the work', async () => {
    const { tl, s } = await setup('purgeshort', 6, 5);
    await tl.integrity.seal();
    const run = await tl.retention.purge({ batchSize: 1, maxBatches: 1 });
    expect(run.complete).toBe(false);
    // The attacker deletes the newest old change, which the run never reached.
    await db().exec(`delete from ${s}.audit_changes where id = (select max(id) from ${s}.audit_changes
      where captured_at < now() - interval '30 days')`);
    let result = await tl.integrity.verify();
    expect(result.ok).toBe(false);
    expect(result.counts.purged).toBe(0);
    expect(result.findings.some((f) => f.kind === 'removed' && f.relation === 'audit_changes')).toBe(true);
    expect(result.findings.find((f) => f.kind === 'removed')!.message).toMatch(/did not finish/);
    // A later run that completes covers everything below its cutoff (the deleted row included).
    const rest = await tl.retention.purge();
    expect(rest.complete).toBe(true);
    result = await tl.integrity.verify();
    expect(result.ok).toBe(true);
    expect(result.counts).toMatchObject({ purged: 10, removed: 0 });
  });
});
