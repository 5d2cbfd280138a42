import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
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

  /** Detach and rename the partitions older than `days` by hand: what a run stopped after step 1 leaves. */
  async function leaveDetached(days: number): Promise<string[]> {
    const parts = await db().sql<{ name: string }>(
      `select name from threadline.storage_partitions() where not is_default and hi < now() - make_interval(days => $1)`,
      [days],
    );
    for (const p of parts)
      await db().exec(`alter table threadline.audit_changes detach partition threadline.${p.name};
        alter table threadline.${p.name} rename to expired_${p.name};`);
    return parts.map((p) => `expired_${p.name}`);
  }

  it('a run stopped between detach and drop leaves no activity chart counting the detached rows', async () => {
    await writeExpired(300, 3, 400);
    await tl.storage.maintain(); // partitions the rows and rolls their hours up
    const from = new Date(Date.now() - 405 * 86_400_000).toISOString();
    const to = new Date(Date.now() - 395 * 86_400_000).toISOString();
    const counted = async () =>
      (await tl.activity({ from, to, bucket: 'day' })).buckets.reduce((n, b) => n + b.changes, 0);
    expect(await counted()).toBe(3);
    // Stop the run at its second step: DROP TABLE fails, the detach (step 1) is committed.
    await db().exec(`create function threadline_test_stop_drop() returns event_trigger language plpgsql as $$
        begin raise exception 'stopped between detach and drop'; end $$;
      create event trigger threadline_test_stop_drop on ddl_command_start when tag in ('DROP TABLE')
        execute function threadline_test_stop_drop();`);
    try {
      await expect(tl.retention.purge()).rejects.toThrow(/stopped between detach and drop/);
    } finally {
      await db().exec(
        `drop event trigger threadline_test_stop_drop; drop function threadline_test_stop_drop();`,
      );
    }
    expect((await leftovers()).length).toBe(1);
    const [inWindow] = await db().sql<{ n: number }>(
      `select count(*)::int as n from threadline.audit_changes where captured_at >= $1 and captured_at <= $2`,
      [from, to],
    );
    expect(inWindow!.n).toBe(0);
    expect(await counted()).toBe(0);
    await tl.storage.maintain();
    expect(await counted()).toBe(0);
    expect(await tl.retention.purge()).toMatchObject({ droppedPartitions: 1, deletedChanges: 3 });
    expect(await leftovers()).toEqual([]);
  });

  it('with retention.archive, a detached table a stopped run left is archived, then dropped, and counted', async () => {
    await writeExpired(400, 2, 500);
    await tl.storage.maintain();
    const left = await leaveDetached(450);
    expect(await leftovers()).toEqual(left);
    const dir = mkdtempSync(join(tmpdir(), 'tl-leftover-archive-'));
    const archived = createThreadline({
      db: db().db,
      retention: { enabled: true, keepDays: 30, sleepMs: 0, batchSize: 1, archive: { dir } },
    });
    const dry = await archived.retention.purge({ dryRun: true });
    expect(dry).toMatchObject({ droppedPartitions: 1, deletedChanges: 2 });
    expect(await leftovers()).toEqual(left);
    const run = await archived.retention.purge();
    expect(run).toMatchObject({ droppedPartitions: 1, deletedChanges: 2, archive: { parts: 2, rows: 2 } });
    expect(await leftovers()).toEqual([]);
    const records = readdirSync(dir)
      .filter((f) => f.endsWith('.ndjson.gz'))
      .flatMap((f) =>
        gunzipSync(readFileSync(join(dir, f)))
          .toString('utf8')
          .trim()
          .split('\n'),
      )
      .map((line) => JSON.parse(line) as { table_pk: unknown });
    expect(records.map((r) => JSON.stringify(r.table_pk)).sort()).toEqual(['{"id":400}', '{"id":401}']);
    const [last] = await tl.retention.runs({ limit: 1 });
    expect(last).toMatchObject({ status: 'completed', droppedPartitions: 1, deletedChanges: 2 });
  });
});
