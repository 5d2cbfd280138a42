import { readFileSync } from 'node:fs';
import { type DbHandle, describeEachDb } from '@threadline/test-utils';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '../src/index.js';
import { SCHEMA_VERSION } from '../src/install/install-script.js';
import { explainingThreadline, type PlanNode, uniqueName } from './helpers.js';

const V4_INSTALL = readFileSync(new URL('./fixtures/install-v4.sql', import.meta.url), 'utf8');

const ops = (entries: { op: string; dataAfter: unknown }[]) =>
  entries.map((e) => `${e.op}:${JSON.stringify(e.dataAfter)}`);

/** Wait until clock_timestamp() has moved past every change so far (asOf instants between writes). */
async function instant(db: DbHandle): Promise<Date> {
  await new Promise((r) => setTimeout(r, 5));
  const [row] = await db.sql<{ t: string }>(`select clock_timestamp()::text as t`);
  await new Promise((r) => setTimeout(r, 5));
  return new Date(row!.t);
}

// Task: history, asOf and timeline by a table's CURRENT name include what was recorded under its
// former names (rename, move to another schema); a new table under an old name starts fresh.
describeEachDb('table ids follow renames and schema moves', (db) => {
  let tl: Threadline;
  let old: string;
  let renamed: string;
  let schema: string;

  beforeAll(async () => {
    old = uniqueName('tid');
    renamed = `${old}_new`;
    schema = uniqueName('tids');
    await db().exec(`create schema ${schema}; create table ${old} (id int primary key, note text)`);
    tl = createThreadline({ db: db().db });
    await tl.install();
    await tl.installTriggers({ tables: [old] });
  });

  it('history, asOf and timeline by the current name return the whole history; a new table under the old name does not inherit it', async () => {
    const w = (sql: string) =>
      runWithAuditContext({ actor: ActorRef.user('ren') }, () => tl.transaction((tx) => tx.query(sql)));
    await w(`insert into ${old} values (1, 'a')`);
    const afterA = await instant(db());
    await w(`update ${old} set note = 'b' where id = 1`);
    await db().exec(`alter table ${old} rename to ${renamed}`);
    await w(`update ${renamed} set note = 'c' where id = 1`);
    const afterC = await instant(db());
    await db().exec(`alter table ${renamed} set schema ${schema}`);
    await w(`update ${schema}.${renamed} set note = 'd' where id = 1`);

    const current = `${schema}.${renamed}`;
    const history = await tl.history(current, 1);
    expect(ops(history.entries)).toEqual([
      'update:{"id":1,"note":"d"}',
      'update:{"id":1,"note":"c"}',
      'update:{"id":1,"note":"b"}',
      'insert:{"id":1,"note":"a"}',
    ]);
    // Each entry still shows the name it was recorded under.
    expect(history.entries.map((e) => `${e.tableSchema}.${e.tableName}`)).toEqual([
      current,
      `public.${renamed}`,
      `public.${old}`,
      `public.${old}`,
    ]);
    const atA = await tl.asOf(current, 1, afterA);
    expect(atA.status).toBe('found');
    expect(atA.status === 'found' && atA.row).toEqual({ id: 1, note: 'a' });
    const atC = await tl.asOf(current, 1, afterC);
    expect(atC.status === 'found' && atC.row).toEqual({ id: 1, note: 'c' });
    expect((await tl.timeline({ table: current })).entries).toHaveLength(4);
    expect((await tl.timeline({ table: current, actor: ActorRef.user('ren') })).entries).toHaveLength(4);
    // A schema filter selects what was recorded in that schema: only the change after the move.
    expect(ops((await tl.timeline({ tableSchema: schema })).entries)).toEqual(['update:{"id":1,"note":"d"}']);

    // A new table under the old name: its own history only.
    await db().exec(`create table ${old} (id int primary key, note text)`);
    await tl.installTriggers({ tables: [old] });
    await w(`insert into ${old} values (1, 'fresh')`);
    expect(ops((await tl.history(old, 1)).entries)).toEqual(['insert:{"id":1,"note":"fresh"}']);
    expect(ops((await tl.timeline({ table: old })).entries)).toEqual(['insert:{"id":1,"note":"fresh"}']);
    expect((await tl.history(current, 1)).entries).toHaveLength(4);
    const ids = await db().sql<{ n: number }>(
      `select count(distinct table_id)::int as n from threadline.audit_changes where table_name in ($1, $2)`,
      [old, renamed],
    );
    expect(ids[0]!.n).toBe(2);
  });

  it('a dropped table stays findable by its name', async () => {
    const t = uniqueName('tdrop');
    await db().exec(`create table ${t} (id int primary key)`);
    await tl.installTriggers({ tables: [t] });
    await db().exec(`insert into ${t} values (7)`);
    await db().exec(`drop table ${t}`);
    expect(ops((await tl.history(t, 7)).entries)).toEqual(['insert:{"id":7}']);
  });
});

function scans(node: PlanNode, out: string[] = []): string[] {
  if (node['Node Type'].includes('Scan') && node['Relation Name']?.startsWith('audit_changes'))
    out.push(`${node['Node Type']}:${node['Index Name'] ?? ''}`);
  for (const child of node.Plans ?? []) scans(child, out);
  return out;
}

// With sequential scans priced out, every read of audit_changes by a table filter is an index
// scan on the compact keys (or the empty legacy indexes).
describeEachDb(
  'table-scoped queries read audit_changes through indexes',
  (db) => {
    let tl: Threadline;
    let client: pg.PoolClient;
    let planOf: (run: () => Promise<unknown>) => Promise<PlanNode>;
    const t = uniqueName('tplan');

    beforeAll(async () => {
      await db().exec(`create table ${t} (id int primary key, n int)`);
      const setup = createThreadline({ db: db().db });
      await setup.install();
      await setup.installTriggers({ tables: [t] });
      for (let i = 0; i < 20; i++) await db().exec(`insert into ${t} values (${i}, 0)`);
      await db().exec(`update ${t} set n = n + 1 where id < 5`);
      client = await db().server!.pool.connect();
      ({ tl, planOf } = explainingThreadline(client, { enable_seqscan: 'off' }));
    });

    afterAll(() => client?.release());

    const plan = async (run: () => Promise<unknown>) => {
      return scans(await planOf(run));
    };

    it('history, asOf and timeline by table use the table id indexes', async () => {
      for (const run of [
        () => tl.history(t, 3),
        () => tl.asOf(t, 3, new Date()),
        () => tl.timeline({ table: t }),
        () => tl.timeline({ tableSchema: 'public' }),
      ]) {
        const used = await plan(run);
        expect(used.filter((s) => s.startsWith('Seq Scan'))).toEqual([]);
        // Partition indexes are named after their columns (…_table_id_…).
        expect(
          used.filter((s) => /table_id|_key_idx|_table_idx/.test(s)),
          used.join(', '),
        ).not.toEqual([]);
      }
    });
  },
  ['postgres'],
);

describeEachDb('upgrade from schema version 4', (db) => {
  it('install shows the migration; maintain keys old rows in batches; every query keeps its answer', async () => {
    const table = uniqueName('up4');
    await db().exec(V4_INSTALL);
    await db().exec(`create table ${table} (id int primary key, note text)`);
    await db().sql(`select threadline.enable_capture('public', $1, '{}'::jsonb)`, [table]);
    for (let i = 1; i <= 8; i++) {
      await db().exec(`begin; select set_config('threadline.actor_ref', '{"type":"user","id":"u${i % 2}"}', true);
            insert into ${table} values (${i}, 'n${i}'); commit;`);
    }
    await db().exec(`update ${table} set note = note || '!' where id % 2 = 0`);
    await db().exec(`update ${table} set id = 100 where id = 5`);
    await db().exec(`delete from ${table} where id = 3`);
    await db().exec(`truncate ${table}`);
    await db().exec(`insert into ${table} values (1, 'again')`);
    const rowsV4 = await db().sql<{ r: string }>(
      `select (to_jsonb(c) - 'tableoid')::text as r from threadline.audit_changes c order by id`,
    );

    const tl = createThreadline({ db: db().db });
    const installed = await tl.install();
    expect(installed.schemaVersion).toBe(SCHEMA_VERSION);
    expect(installed.storage.migrationPending).toBe(true);
    const status = await tl.storage.status();
    expect(status.unkeyedRows).toBe(rowsV4.length);

    const answers = async () => {
      const out: unknown[] = [];
      for (const key of [1, 2, 3, 5, 100]) {
        out.push(await tl.history(table, key));
        out.push(await tl.asOf(table, key, new Date()));
      }
      out.push((await tl.timeline({ table }, { pageSize: 5 })).entries);
      out.push((await tl.timeline({ table, actor: ActorRef.user('u1') })).entries);
      out.push((await tl.timeline({ tableSchema: 'public' }, { pageSize: 50 })).entries);
      out.push((await tl.continuity.report({ tables: [table] })).tables);
      return JSON.stringify(out);
    };
    const before = await answers();

    const steps: string[] = [];
    const result = await tl.storage.maintain({ onProgress: (p) => steps.push(`${p.step}:${p.rows}`) });
    expect(result.keyedRows).toBe(rowsV4.length);
    expect(steps).toContain(`keyed:${rowsV4.length}`);
    expect((await tl.storage.status()).unkeyedRows).toBe(0);
    expect((await tl.storage.status()).migrationPending).toBe(false);
    // Nothing lost or changed but the two new columns; every row has the table's id.
    const rowsV5 = await db().sql<{ r: string; tid: number | null; ok: boolean }>(
      `select (to_jsonb(c) - 'tableoid' - 'table_id' - 'key_hash')::text as r, c.table_id as tid,
                  c.key_hash = jsonb_hash_extended(c.table_pk, 0) as ok
             from threadline.audit_changes c order by id`,
    );
    expect(rowsV5.map((r) => r.r)).toEqual(rowsV4.map((r) => r.r));
    const [reg] = await db().sql<{ id: number }>(
      `select table_id as id from threadline.captured_tables where table_name = $1`,
      [table],
    );
    expect(rowsV5.every((r) => r.tid === reg!.id && r.ok)).toBe(true);
    expect(await answers()).toBe(before);
    // Capture after the upgrade writes keyed rows.
    await db().exec(`insert into ${table} values (500, 'after')`);
    const [fresh] = await db().sql<{ tid: number | null }>(
      `select table_id as tid from threadline.audit_changes where table_pk = '{"id":500}'`,
    );
    expect(fresh!.tid).toBe(reg!.id);
    expect((await tl.storage.maintain()).keyedRows).toBe(0);
  });

  it('rows recorded under a former name are keyed to the renamed table', async () => {
    const before = uniqueName('up4r');
    const after = `${before}_b`;
    await db().exec(`drop schema threadline cascade`);
    await db().exec(V4_INSTALL);
    await db().exec(`create table ${before} (id int primary key, n int)`);
    await db().sql(`select threadline.enable_capture('public', $1, '{}'::jsonb)`, [before]);
    await db().exec(`insert into ${before} values (1, 0)`);
    await db().exec(`alter table ${before} rename to ${after}`);
    await db().exec(`update ${after} set n = 1`);
    const tl = createThreadline({ db: db().db });
    await tl.install();
    await tl.storage.maintain();
    expect((await tl.history(after, 1)).entries.map((e) => e.op)).toEqual(['update', 'insert']);
  });
});
