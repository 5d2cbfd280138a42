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
});
