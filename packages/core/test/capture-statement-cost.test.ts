import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { changesFor, installed, uniqueName } from './helpers.js';

// What capture starts for every captured statement (issue 9): each query a trigger function runs
// starts an executor, each plan node and subplan costs. These pin the two savings down by shape;
// the cost itself is measured by bench/src/capture-instructions.ts.
describeEachDb('capture statement cost', (db) => {
  it('asks a table that is not partitioned only for a second old row per UPDATE, counts both of a partitioned one', async () => {
    await installed(db());
    const plain = uniqueName('cost_plain');
    const parted = uniqueName('cost_parted');
    await db().exec(`create table ${plain} (id int primary key, v text)`);
    await db().exec(`create table ${parted} (id int primary key, v text) partition by range (id)`);
    await db().exec(`create table ${parted}_a partition of ${parted} for values from (0) to (100)`);
    await db().exec(`create table ${parted}_b partition of ${parted} for values from (100) to (200)`);
    for (const t of [plain, parted]) await db().sql(`select threadline.enable_capture('public', $1)`, [t]);
    const src = async (t: string) => {
      const [row] = await db().sql<{ src: string }>(
        `select p.prosrc as src from threadline.captured_tables ct
           join pg_proc p on p.proname = ct.function_name and p.pronamespace = 'threadline'::regnamespace
          where ct.table_schema = 'public' and ct.table_name = $1`,
        [t],
      );
      return row!.src;
    };
    expect(await src(plain)).not.toContain('count(*)');
    expect(await src(plain)).toContain('PERFORM FROM threadline_old_rows OFFSET 1 LIMIT 1');
    expect(await src(parted)).toContain('count(*) FROM threadline_new_rows');
    // captured_at through one shared PL/pgSQL function (its expression set up once per transaction),
    // not a copy of the expression in every capture function.
    for (const t of [plain, parted]) {
      expect(await src(t)).toContain('.capture_started_at()');
      expect(await src(t)).not.toContain('statement_at_');
      // Every expression a trigger function evaluates is set up again on each call: the frequent
      // operations are tested first, an UPDATE reads its key's change from c (no second
      // comparison, no old key object for every row), an INSERT builds its key object once.
      const body = await src(t);
      expect(body.indexOf("TG_OP = 'UPDATE'")).toBeLessThan(body.indexOf("TG_OP = 'TRUNCATE'"));
      expect(body).not.toContain('AS k_old');
      expect(body).toContain('jsonb_hash_extended(tl_n.tl_k, 0)');
    }
    // The BEFORE STATEMENT trigger hands its work to one plain function shared by every table (a
    // trigger function is compiled, and its expressions set up, once per table).
    const [start] = await db().sql<{ src: string }>(
      `select prosrc as src from pg_proc where oid = 'threadline.capture_statement_start()'::regprocedure`,
    );
    expect(start!.src).toContain('.capture_statement_note(TG_RELID)');

    // Either way one, several and moved rows pair as before.
    for (const t of [plain, parted]) {
      await db().exec(`insert into ${t} values (1, 'a'), (2, 'b'), (3, 'c')`);
      await db().exec(`update ${t} set v = v || '1' where id = 1`);
      await db().exec(`update ${t} set id = id + 100, v = v || '2'`);
      const updates = (await changesFor(db(), 'public', t))
        .filter((r) => r.op === 'update')
        .map((r) => [r.table_pk, r.table_pk_before ?? null, r.data_after])
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
      expect(updates).toEqual([
        [{ id: 1 }, null, { id: 1, v: 'a1' }],
        [{ id: 101 }, { id: 1 }, { id: 101, v: 'a12' }],
        [{ id: 102 }, { id: 2 }, { id: 102, v: 'b2' }],
        [{ id: 103 }, { id: 3 }, { id: 103, v: 'c2' }],
      ]);
    }
  });

  it('lets the planner pull a capture INSERT up into its SELECT: current_transaction_id is STABLE', async () => {
    await installed(db());
    const t = uniqueName('cost_pullup');
    // An identity column like audit_changes.id: the INSERT projects its default over the SELECT, so
    // a SELECT that is not pulled up stays a subquery scan of its own.
    await db().exec(`create temp table ${t} (id bigint generated always as identity, tx bigint, n int)`);
    const plan = await db().sql<{ 'QUERY PLAN': string }>(
      `explain (costs off) insert into ${t} (tx, n) select (select threadline.current_transaction_id()), s.n
         from (select 1 as n offset 0) s where s.n > 0`,
    );
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).not.toContain('*SELECT*');
    // Still evaluated only when a row is written: a statement that writes nothing starts no audit transaction.
    await db().exec('begin');
    try {
      await db().exec(
        `insert into ${t} (tx, n) select (select threadline.current_transaction_id()), s.n from (select 1 as n offset 0) s where s.n < 0`,
      );
      const [none] = await db().sql<{ set: string | null }>(
        `select nullif(current_setting('threadline.transaction', true), '') as set`,
      );
      expect(none!.set).toBeNull();
    } finally {
      await db().exec('rollback');
    }
  });
});
