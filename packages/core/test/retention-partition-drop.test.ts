import { describeEachDb } from '@threadline/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '../src/index.js';
import { uniqueName } from './helpers.js';

/**
 * A purge drops an expired partition in two steps: detach (and rename it expired_…) in one short
 * transaction, then count and drop it in another that holds no lock capture needs. A run stopped
 * between the steps leaves the renamed table; the next run (and its dry run) accounts for it.
 */
describeEachDb('retention: partitions are detached, then dropped', (db) => {
  let table: string;
  let tl: Threadline;

  async function writeExpired(first: number, n: number, days: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('w') }, () =>
        tl.transaction((tx) => tx.query(`insert into ${table} values ($1, 'x')`, [first + i])),
      );
      await db().sql(
        `update threadline.audit_changes set captured_at = captured_at - make_interval(days => $2) where transaction_id = $1`,
        [auditTransactionId, days],
      );
      await db().sql(
        `update threadline.audit_transactions set occurred_at = occurred_at - make_interval(days => $2) where id = $1`,
        [auditTransactionId, days],
      );
    }
  }

  const leftovers = async () =>
    (
      await db().sql<{ relname: string }>(
        `select relname from pg_class where relnamespace = 'threadline'::regnamespace and relname like 'expired\\_%' order by 1`,
      )
    ).map((r) => r.relname);

  beforeAll(async () => {
    table = uniqueName('drop2');
    await db().exec(`create table ${table} (id int primary key, note text)`);
    tl = createThreadline({ db: db().db, retention: { enabled: true, keepDays: 30, sleepMs: 0 } });
    await tl.install();
    await tl.installTriggers({ tables: [table] });
  });

  it('a purge leaves no detached table behind and counts the dropped partition', async () => {
    await writeExpired(100, 3, 200);
    await tl.storage.maintain();
    const run = await tl.retention.purge();
    expect(run).toMatchObject({ droppedPartitions: 1, deletedChanges: 3 });
    expect(await leftovers()).toEqual([]);
  });

  it('the next run drops and counts a partition a stopped run detached but did not drop (the dry run says so first)', async () => {
    await writeExpired(200, 2, 300);
    await tl.storage.maintain();
    const [part] = await db().sql<{ name: string }>(
      `select name from threadline.storage_partitions() where not is_default and hi < now() - interval '200 days'`,
    );
    // What a run stopped after its first step leaves: detached, renamed, not dropped.
    await db().exec(`alter table threadline.audit_changes detach partition threadline.${part!.name};
      alter table threadline.${part!.name} rename to expired_${part!.name};`);
    expect(await leftovers()).toEqual([`expired_${part!.name}`]);
    const dry = await tl.retention.purge({ dryRun: true });
    expect(dry).toMatchObject({ droppedPartitions: 1, deletedChanges: 2 });
    expect(await leftovers()).toEqual([`expired_${part!.name}`]);
    const run = await tl.retention.purge();
    expect(run).toMatchObject({ droppedPartitions: 1, deletedChanges: 2 });
    expect(await leftovers()).toEqual([]);
    const [last] = await tl.retention.runs({ limit: 1 });
    expect(last).toMatchObject({ status: 'completed', droppedPartitions: 1, deletedChanges: 2 });
  });
});
