import { readFileSync } from 'node:fs';
import { type DbHandle, describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, createThreadline, type Threadline } from '../src/index.js';
import { uniqueName } from './helpers.js';

const V4_INSTALL = readFileSync(new URL('./fixtures/install-v4.sql', import.meta.url), 'utf8');

// The legacy indexes (storage/legacy-indexes.ts) exist only while rows without a table id may:
// every captured row pays for each index of audit_changes, even an empty partial one.
const legacyIndexes = async (db: DbHandle) =>
  (
    await db.sql<{ n: string }>(
      `select indexname as n from pg_indexes where schemaname = 'threadline' and tablename = 'audit_changes'
          and indexname like 'audit\\_changes\\_legacy\\_%' order by 1`,
    )
  ).map((r) => r.n);

/** A schema version 4 install with captured rows (no table ids), upgraded by the current install. */
async function upgradedV4(db: DbHandle, partition: 'none' | 'month' = 'month') {
  const table = uniqueName('leg');
  await db.exec('drop schema if exists threadline cascade');
  await db.exec(V4_INSTALL);
  await db.exec(`create table ${table} (id int primary key, note text)`);
  await db.sql(`select threadline.enable_capture('public', $1, '{}'::jsonb)`, [table]);
  for (let i = 1; i <= 6; i++) {
    await db.exec(`begin; select set_config('threadline.actor_ref', '{"type":"user","id":"u${i % 2}"}', true);
          insert into ${table} values (${i}, 'n${i}'); commit;`);
  }
  await db.exec(`update ${table} set note = note || '!' where id % 2 = 0`);
  await db.exec(`update ${table} set id = 100 where id = 5`);
  await db.exec(`delete from ${table} where id = 3`);
  const [tx] = await db.sql<{ id: string }>(
    `select transaction_id::text as id from threadline.audit_changes where op = 'delete'`,
  );
  const tl = createThreadline({ db: db.db, storage: { partition } });
  await tl.install();
  return { tl, table, deleteTx: tx!.id };
}

/** What the table-scoped queries answer: history, as-of, timelines, revert lookups, integrity. */
async function answers(tl: Threadline, table: string, deleteTx: string): Promise<string> {
  const out: unknown[] = [];
  for (const key of [1, 2, 3, 5, 100]) {
    out.push(await tl.history(table, key));
    out.push(await tl.asOf(table, key, new Date()));
  }
  out.push((await tl.timeline({ table }, { pageSize: 4 })).entries);
  out.push((await tl.timeline({ table, actor: ActorRef.user('u1') })).entries);
  out.push((await tl.timeline({ tableSchema: 'public' }, { pageSize: 50 })).entries);
  const plan = await tl.revert.plan({ transactionId: deleteTx });
  out.push(plan.steps, plan.conflicts);
  const row = await tl.revert.plan({ table, pk: 2, to: new Date() });
  out.push(row.steps, row.conflicts);
  const verified = await tl.integrity.verify();
  out.push(verified.ok, verified.findings);
  return JSON.stringify(out);
}

describeEachDb('legacy indexes only while rows without a table id may exist', (db) => {
  it('a fresh install has none, and queries answer through the compact indexes', async () => {
    await db().exec('drop schema if exists threadline cascade');
    const table = uniqueName('fresh');
    await db().exec(`create table ${table} (id int primary key, note text)`);
    const tl = createThreadline({ db: db().db });
    await tl.install();
    await tl.installTriggers({ tables: [table] });
    await db().exec(`insert into ${table} values (1, 'a'); update ${table} set note = 'b'`);
    expect(await legacyIndexes(db())).toEqual([]);
    expect((await tl.history(table, 1)).entries.map((e) => e.op)).toEqual(['update', 'insert']);
    expect((await tl.timeline({ table })).entries).toHaveLength(2);
    expect((await tl.storage.status()).unkeyedRows).toBe(0);
    expect((await tl.storage.maintain()).keyedRows).toBe(0);
    await tl.install();
    expect(await legacyIndexes(db())).toEqual([]);
  });

  it('the upgrade creates them; queries find the legacy rows; maintain keys them and drops the indexes; answers unchanged', async () => {
    const { tl, table, deleteTx } = await upgradedV4(db());
    expect(await legacyIndexes(db())).toEqual([
      'audit_changes_legacy_before_idx',
      'audit_changes_legacy_row_idx',
      'audit_changes_legacy_table_idx',
      'audit_changes_legacy_truncate_idx',
    ]);
    const before = await answers(tl, table, deleteTx);
    expect((await tl.history(table, 100)).entries.length).toBeGreaterThan(0);
    // A second install keeps them: the rows are not keyed yet.
    await tl.install();
    expect(await legacyIndexes(db())).toHaveLength(4);
    const result = await tl.storage.maintain();
    expect(result.keyedRows).toBeGreaterThan(0);
    expect(await legacyIndexes(db())).toEqual([]);
    expect(await answers(tl, table, deleteTx)).toBe(before);
    // An install after the keying does not bring them back.
    await tl.install();
    expect(await legacyIndexes(db())).toEqual([]);
  });

  it('install drops them when no unkeyed row is left (an install upgraded before this release)', async () => {
    const { tl } = await upgradedV4(db());
    await db().exec(`select threadline.storage_key_batch(100000)`);
    expect(await legacyIndexes(db())).toHaveLength(4);
    await tl.install();
    expect(await legacyIndexes(db())).toEqual([]);
  });

  it('a row written without a table id after they are gone is still found, and keyed by maintain', async () => {
    const { tl, table } = await upgradedV4(db());
    await tl.storage.maintain();
    expect(await legacyIndexes(db())).toEqual([]);
    await db().exec(`update threadline.audit_changes set table_id = null, key_hash = null
                      where table_pk = '{"id":4}' and op = 'update'`);
    expect((await tl.history(table, 4)).entries.map((e) => e.op)).toEqual(['update', 'insert']);
    expect((await tl.storage.status()).unkeyedRows).toBe(1);
    expect((await tl.storage.maintain()).keyedRows).toBe(1);
    expect((await tl.history(table, 4)).entries.map((e) => e.op)).toEqual(['update', 'insert']);
  });
});

describeEachDb(
  'dropping the legacy indexes never waits long for capture',
  (db) => {
    it('a maintain that cannot get the lock leaves them and succeeds; the next one drops them', async () => {
      const { tl, table, deleteTx } = await upgradedV4(db(), 'none');
      const before = await answers(tl, table, deleteTx);
      const holder = await db().server!.pool.connect();
      try {
        await holder.query('begin');
        await holder.query('lock table threadline.audit_changes in access share mode');
        const result = await tl.storage.maintain();
        expect(result.keyedRows).toBeGreaterThan(0);
        expect(await legacyIndexes(db())).toHaveLength(4);
        // Capture meanwhile is not blocked (the drop gave up).
        await db().exec(`insert into ${table} values (50, 'during')`);
        await holder.query('rollback');
      } finally {
        holder.release();
      }
      expect(await answers(tl, table, deleteTx)).not.toBe(before); // the row inserted above
      const after = await answers(tl, table, deleteTx);
      await tl.storage.maintain();
      expect(await legacyIndexes(db())).toEqual([]);
      expect(await answers(tl, table, deleteTx)).toBe(after);
    });

    it('concurrent drops (install and two maintains) never fail; a repeatable-read caller leaves them', async () => {
      // Each caller held its pre-check's ACCESS SHARE and asked for ACCESS EXCLUSIVE: 40P01 in
      // about half of such rounds before the drop took an advisory lock and caught deadlocks.
      const pools = [1, 2, 3].map(() => db().server!.newPool(2));
      {
        const tls = pools.map((p) => createThreadline({ db: p }));
        await tls[0]!.install();
        for (let round = 0; round < 12; round++) {
          await db().exec('select threadline.storage_legacy_create(true)');
          const settled = await Promise.allSettled([
            tls[0]!.install(),
            tls[1]!.storage.maintain(),
            tls[2]!.storage.maintain(),
          ]);
          expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
        }
        await tls[1]!.storage.maintain();
        expect(await legacyIndexes(db())).toEqual([]);
        // Under repeatable read the re-check under the lock would read the snapshot taken before
        // the wait: the drop is left for a read committed run.
        await db().exec('select threadline.storage_legacy_create(true)');
        const client = await pools[0]!.connect();
        try {
          await client.query('begin isolation level repeatable read');
          const { rows } = await client.query<{ r: string }>('select threadline.storage_legacy_drop() as r');
          await client.query('commit');
          expect(rows[0]!.r).toBe('pending');
        } finally {
          client.release();
        }
        expect(await legacyIndexes(db())).toHaveLength(4);
      }
    });
  },
  ['postgres'],
);
