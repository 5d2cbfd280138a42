import { readFileSync } from 'node:fs';
import { type DbHandle, describeEachDb } from '@threadline/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ActorRef,
  createThreadline,
  isThreadlineError,
  runWithAuditContext,
  type Threadline,
} from '../src/index.js';
import { resolveStorageConfig } from '../src/internal.js';
import { uniqueName } from './helpers.js';

const OLD_INSTALL = readFileSync(new URL('./fixtures/install-v2.sql', import.meta.url), 'utf8');

/**
 * Every audit row as stored (the ground truth a layout change must keep), without the index keys
 * derived from it (table_id, key_hash: storage maintain fills them on rows written before v5).
 */
async function allChanges(handle: DbHandle): Promise<string[]> {
  const rows = await handle.sql<{ r: string }>(
    `select (to_jsonb(c) - 'tableoid' - 'table_id' - 'key_hash')::text as r from threadline.audit_changes c order by id`,
  );
  return rows.map((x) => x.r);
}

async function defaultRows(handle: DbHandle): Promise<number> {
  const [r] = await handle.sql<{ n: number }>(
    `select count(*)::int as n from threadline.audit_changes_default`,
  );
  return r!.n;
}

async function errorOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return isThreadlineError(error) ? `${error.code}: ${error.message}` : String(error);
  }
  return 'no error';
}

describe('storage config', () => {
  it.each([
    [{ partition: 'year' }, /storage.partition must be one of 'none', 'day', 'week', 'month'/],
    [{ partitions: 'day' }, /unknown key "partitions"/],
    ['month', /must be an object/],
  ])('refuses %j', (input, message) => {
    let error: unknown;
    try {
      resolveStorageConfig(input);
    } catch (e) {
      error = e;
    }
    expect(isThreadlineError(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(message);
  });

  it('defaults to month partitions', () => {
    expect(resolveStorageConfig(undefined)).toEqual({ partition: 'month' });
  });
});

describeEachDb('partitioned storage', (db) => {
  let table: string;
  let tl: Threadline;

  async function write(first: number, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('w') }, () =>
        tl.transaction((tx) => tx.query(`insert into ${table} values ($1, 'x')`, [first + i])),
      );
      ids.push(auditTransactionId!);
    }
    return ids;
  }

  /** Move the audit rows of these transactions by `days` (negative: into the past). */
  async function shift(txIds: string[], days: number) {
    await db().sql(
      `update threadline.audit_changes set captured_at = captured_at + make_interval(days => $2) where transaction_id = any($1::bigint[])`,
      [txIds, days],
    );
    await db().sql(
      `update threadline.audit_transactions set occurred_at = occurred_at + make_interval(days => $2) where id = any($1::bigint[])`,
      [txIds, days],
    );
  }

  beforeAll(async () => {
    table = uniqueName('lay');
    await db().exec(`create table ${table} (id int primary key, note text)`);
    tl = createThreadline({ db: db().db, retention: { enabled: true, keepDays: 30, sleepMs: 0 } });
    await tl.install();
    await tl.installTriggers({ tables: [table] });
  });

  it('installs audit_changes partitioned by month, with a default partition and partitions ahead', async () => {
    const status = await tl.storage.status();
    expect(status.layout).toBe('partitioned');
    expect(status.partition).toBe('month');
    expect(status.migrationPending).toBe(false);
    const ranges = status.partitions.filter((p) => !p.isDefault);
    expect(ranges.length).toBe(3); // this month and two ahead
    expect(status.partitions.filter((p) => p.isDefault).map((p) => p.name)).toEqual([
      'audit_changes_default',
    ]);
    expect(Date.parse(ranges[0]!.from!)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(ranges[0]!.to!)).toBeGreaterThan(Date.now());
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.from).toBe(ranges[i - 1]!.to);
    // Partitions give PUBLIC nothing: capture writes through the parent only.
    const leaks = await db().sql<{ rel: string }>(
      `select c.relname as rel from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = 'threadline.audit_changes'::regclass
          and (has_table_privilege('public', c.oid, 'INSERT') or has_table_privilege('public', c.oid, 'UPDATE')
               or has_table_privilege('public', c.oid, 'DELETE') or has_table_privilege('public', c.oid, 'SELECT'))`,
    );
    expect(leaks).toEqual([]);
    // Re-running install changes nothing.
    await tl.install();
    expect((await tl.storage.status()).partitions.map((p) => p.name)).toEqual(
      status.partitions.map((p) => p.name),
    );
  });

  it('maintain moves rows out of the default partition, including rows of a range a partition is created for', async () => {
    const old = await write(100, 3);
    const future = await write(200, 2);
    await shift(old, -70); // no partition: they land in the default partition
    await shift(future, 400); // beyond the partitions ahead
    const before = await allChanges(db());
    expect(await defaultRows(db())).toBe(5);
    const status = await tl.storage.status();
    expect(status.defaultPartitionRows).toBe(5);
    const steps: number[] = [];
    const result = await tl.storage.maintain({ onProgress: (p) => steps.push(p.rows) });
    expect(result.movedRows).toBe(5);
    expect(result.defaultPartitionRows).toBe(0);
    expect(steps.reduce((a, b) => a + b, 0)).toBe(5);
    expect(await defaultRows(db())).toBe(0);
    expect(await allChanges(db())).toEqual(before);
    // History still finds them, across partitions, with cursors.
    const page1 = await tl.history(table, 100, { pageSize: 1 });
    expect(page1.entries).toHaveLength(1);
    // A second maintain has nothing to do.
    expect((await tl.storage.maintain()).created).toEqual([]);
  });

  it('timeline cursors walk across partitions in order', async () => {
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await tl.timeline({ table }, { pageSize: 2, ...(cursor ? { cursor } : {}) });
      all.push(...page.entries.map((e) => `${e.capturedAt}|${e.id}`));
      cursor = page.cursor;
    } while (cursor);
    const truth = await db().sql<{ k: string }>(
      `select to_char(captured_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|' || id as k
         from threadline.audit_changes where table_name = $1 order by captured_at desc, id desc`,
      [table],
    );
    expect(all.map((k) => k.split('|')[1])).toEqual(truth.map((t) => t.k.split('|')[1]));
  });

  it('a purge drops whole expired partitions (the dry run counts them exactly) and deletes the boundary in batches', async () => {
    const expired = await write(300, 4);
    await shift(expired, -100);
    await tl.storage.maintain();
    const boundary = await write(400, 2);
    await shift(boundary, -31); // this month's partition or last month's, never wholly expired with them
    const dry = await tl.retention.purge({ dryRun: true, batchSize: 2 });
    expect(dry.droppedPartitions).toBeGreaterThanOrEqual(1);
    const expected = await db().sql<{ n: number }>(
      `select count(*)::int as n from threadline.audit_changes where captured_at < $1`,
      [dry.cutoff],
    );
    expect(dry.deletedChanges).toBe(expected[0]!.n);
    const run = await tl.retention.purge({ batchSize: 2 });
    expect(run.droppedPartitions).toBe(dry.droppedPartitions);
    expect(run.deletedChanges).toBe(dry.deletedChanges);
    expect(run.deletedTransactions).toBe(dry.deletedTransactions);
    expect(run.batchesRun).toBe(dry.batchesRun);
    const left = await db().sql<{ n: number }>(
      `select count(*)::int as n from threadline.audit_changes where captured_at < $1`,
      [dry.cutoff],
    );
    expect(left[0]!.n).toBe(0);
    const [last] = await tl.retention.runs({ limit: 1 });
    expect(last!.droppedPartitions).toBe(run.droppedPartitions);
    // Partitions ahead are still there; capture still works.
    await write(500, 1);
    expect((await tl.history(table, 500)).entries).toHaveLength(1);
  });
});

describeEachDb('upgrade from the unpartitioned layout', (db) => {
  it('install shows the migration; maintain converts in place and every query keeps its answer', async () => {
    const table = uniqueName('upg');
    await db().exec(OLD_INSTALL);
    await db().exec(`create table ${table} (id int primary key, note text)`);
    await db().sql(`select threadline.enable_capture('public', $1, '{}'::jsonb)`, [table]);
    // Data written by the old layout's capture: inserts, updates, a key change, deletes, over months.
    for (let i = 1; i <= 12; i++) {
      await db().exec(`begin; select set_config('threadline.actor_ref', '{"type":"user","id":"u${i % 3}"}', true);
        insert into ${table} values (${i}, 'n${i}'); commit;`);
    }
    await db().exec(`update ${table} set note = note || '!' where id % 2 = 0`);
    await db().exec(`update ${table} set id = 100 where id = 5`);
    await db().exec(`delete from ${table} where id in (3, 4)`);
    await db().exec(
      `update threadline.audit_changes set captured_at = captured_at - make_interval(days => (id % 5)::int * 40)`,
    );
    const none = createThreadline({ db: db().db, storage: { partition: 'none' } });
    const installedNone = await none.install();
    // Not partitioned (as configured), but the v2 rows still need their table ids and key hashes.
    expect(installedNone.storage).toEqual({
      partition: 'none',
      layout: 'unpartitioned',
      migrationPending: true,
    });

    const answers = async (tl: Threadline) => {
      const out: unknown[] = [];
      for (const key of [1, 2, 3, 5, 100, 12]) {
        out.push(await tl.history(table, key));
        out.push(await tl.asOf(table, key, new Date(Date.now() - 90 * 86_400_000)));
        out.push(await tl.asOf(table, key, new Date()));
      }
      let cursor: string | null = null;
      do {
        const page = await tl.timeline({}, { pageSize: 4, ...(cursor ? { cursor } : {}) });
        out.push(page.entries);
        cursor = page.cursor;
      } while (cursor);
      out.push((await tl.actorHistory(ActorRef.user('u1'))).entries);
      const [t] = await db().sql<{ id: string }>(
        `select min(id)::text as id from threadline.audit_transactions`,
      );
      out.push(await tl.auditTransaction(t!.id));
      return JSON.stringify(out);
    };
    const before = await answers(none);
    const rowsBefore = await allChanges(db());

    const tl = createThreadline({ db: db().db });
    const installed = await tl.install();
    expect(installed.storage).toEqual({
      partition: 'month',
      layout: 'unpartitioned',
      migrationPending: true,
    });
    expect((await tl.storage.status()).migrationPending).toBe(true);
    const steps: string[] = [];
    const result = await tl.storage.maintain({ onProgress: (p) => steps.push(p.step) });
    expect(result.converted).toBe(true);
    expect(steps[0]).toBe('converted');
    expect(result.defaultPartitionRows).toBe(0);
    expect(result.movedRows).toBe(rowsBefore.length);
    const status = await tl.storage.status();
    expect(status.layout).toBe('partitioned');
    expect(status.unkeyedRows).toBe(0);
    expect(status.migrationPending).toBe(false);
    expect(result.keyedRows).toBe(rowsBefore.length);
    expect(status.partitions.filter((p) => !p.isDefault).length).toBeGreaterThanOrEqual(4);
    expect(await allChanges(db())).toEqual(rowsBefore);
    expect(await answers(tl)).toBe(before);
    // Capture goes on into the new layout, ids continue after the old ones.
    await db().exec(`insert into ${table} values (500, 'after')`);
    const after = await tl.history(table, 500);
    expect(after.entries).toHaveLength(1);
    expect(BigInt(after.entries[0]!.id)).toBeGreaterThan(BigInt(JSON.parse(rowsBefore.at(-1)!).id as number));
    expect(await errorOf(tl.storage.maintain())).toBe('no error');
  });
});
