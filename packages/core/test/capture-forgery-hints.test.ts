import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { createThreadline } from '../src/index.js';
import { changesFor, installed, uniqueName } from './helpers.js';

/**
 * Hints a session can write (transaction-local settings) decide nothing it could not decide
 * otherwise: not the order of its own changes across the statements it sends, not whether a
 * TRUNCATE of a partition is recorded; and every id the audit transaction can have is accepted.
 */
describeEachDb('capture hints a session can write', (db) => {
  it('a forged threadline.statement_at_<depth> cannot move an UPDATE before an earlier statement', async () => {
    const tl = await installed(db());
    const t = uniqueName('order');
    await db().exec(`create table ${t} (id int primary key, v int)`);
    await tl.installTriggers({ tables: [t] });
    await tl.transaction(async (tx) => {
      await tx.query('select pg_sleep(0.02)'); // the insert starts after the transaction did
      await tx.query(`insert into ${t} values (1, 1)`);
      // The update sets its own statement start back to the transaction's start, mid-statement.
      await tx.query(`update ${t} set v = (select 2 from (select set_config('threadline.statement_at_1',
        ((extract(epoch from now()) * 1000000)::bigint)::text, true)) s) where id = 1`);
    });
    const history = await tl.history(t, { id: 1 });
    expect(history.entries.map((e) => `${e.op}:${e.dataAfter?.v}`)).toEqual(['update:2', 'insert:1']);
    const now = await tl.asOf(t, { id: 1 }, new Date(Date.now() + 60_000));
    expect(now).toMatchObject({ status: 'found', row: { v: 2 } });
  });

  it('a forged statement start inside a procedure that COMMITs stays within its own transaction', async () => {
    // captured_at was kept at or after statement_timestamp() (the CALL's): the procedure's second
    // transaction could place its change before it began, and before the first one's.
    const tl = await installed(db());
    const t = uniqueName('proc');
    await db().exec(`create table ${t} (id int primary key, note text)`);
    await tl.installTriggers({ tables: [t] });
    await db().exec(`create table ${t}_x (id int, started timestamptz);
      create procedure ${t}_p() language plpgsql as $$
      begin
        perform pg_sleep(0.05);
        insert into ${t} values (1, 'first');
        commit;
        perform pg_sleep(0.05);
        insert into ${t} select 2, set_config('threadline.statement_at_1', '0', true);
        insert into ${t}_x values (2, now());
        commit;
      end $$;`);
    await db().exec(`call ${t}_p()`);
    const [row] = await db().sql<{ within: boolean; after: boolean }>(
      `select c2.captured_at >= x.started as within, c2.captured_at > c1.captured_at as after
         from threadline.audit_changes c1, threadline.audit_changes c2, ${t}_x x
        where c1.table_name = $1 and c1.table_pk = '{"id": 1}' and c2.table_name = $1 and c2.table_pk = '{"id": 2}'`,
      [t],
    );
    expect(row).toEqual({ within: true, after: true });
  });

  it('a forged threadline.truncating cannot hide a TRUNCATE of a partition, nor can a session call truncate_started', async () => {
    const tl = await installed(db());
    const t = uniqueName('pp');
    await db().exec(`create table ${t} (id int, k int, v text, primary key (id, k)) partition by list (k);
      create table ${t}_1 partition of ${t} for values in (1)`);
    await tl.installTriggers({ tables: [t] });
    await db().exec(`insert into ${t} values (500, 1, 'before');
      do $$ begin
        truncate ${t};
        insert into ${t} values (501, 1, 'a');
        perform set_config('threadline.truncating', ',' || '${t}_1'::regclass::oid || ',', true);
        truncate ${t}_1;
      end $$;`);
    const rows = await changesFor(db(), 'public', t);
    expect(rows.map((r) => [r.op, r.data_before])).toEqual([
      ['insert', null],
      ['truncate', null],
      ['insert', null],
      ['truncate', { partition: `public.${t}_1` }],
    ]);
    for (const fn of ['truncate_started(oid)', 'truncate_captured(text, text, oid)']) {
      const [grant] = await db().sql<{ ok: boolean }>(
        `select has_function_privilege('public', 'threadline.${fn}', 'execute') as ok`,
      );
      expect(grant!.ok, fn).toBe(false);
    }
  });

  it('SERIALIZABLE: a forged threadline.transaction naming another row and its ctid is ignored', async () => {
    const tl = await installed(db());
    const t = uniqueName('serforge');
    await db().exec(`create table ${t} (id int primary key)`);
    await tl.installTriggers({ tables: [t] });
    await db().exec(`insert into ${t} values (1)`);
    const [victim] = await db().sql<{ id: string; row: string }>(
      `select t.id::text as id, t.ctid::text as row from threadline.audit_transactions t
         join threadline.audit_changes c on c.transaction_id = t.id where c.table_name = $1`,
      [t],
    );
    await db().exec(`begin isolation level serializable;
      select set_config('threadline.transaction', txid_current() || ':${victim!.id}:${victim!.row}', true);
      insert into ${t} values (2);
      select set_config('threadline.transaction', txid_current() || ':${victim!.id}:(0,1', true);
      insert into ${t} values (3);
      commit;`);
    const rows = await db().sql<{ tx: string; meta: unknown }>(
      `select c.transaction_id::text as tx, t.meta from threadline.audit_changes c
         join threadline.audit_transactions t on t.id = c.transaction_id where c.table_name = $1 order by c.id`,
      [t],
    );
    expect(rows).toHaveLength(3);
    for (const row of rows.slice(1)) {
      expect(row.tx).not.toBe(victim!.id);
      expect(row.meta).toEqual({
        threadline_context_error: {
          transaction: 'threadline.transaction was set by the session, not by Threadline (ignored)',
        },
      });
    }
  });

  it('audit transaction ids of 19 digits pass the cached-id check', async () => {
    const schema = uniqueName('tl_big');
    const tl = createThreadline({ db: db().db, schema });
    await tl.install();
    await db().exec(
      `alter table ${schema}.audit_transactions alter column id restart with 9000000000000000000`,
    );
    const t = uniqueName('big');
    await db().exec(`create table ${t} (id int primary key)`);
    await tl.installTriggers({ tables: [t] });
    const result = await tl.transaction(async (tx) => {
      await tx.query(`insert into ${t} values (1)`);
      await tx.query(`insert into ${t} values (2)`);
    });
    expect(result.auditTransactionId).toBe('9000000000000000000');
    const rows = await db().sql<{ transaction_id: string; meta: unknown }>(
      `select c.transaction_id::text, t.meta from ${schema}.audit_changes c
         join ${schema}.audit_transactions t on t.id = c.transaction_id where c.table_name = $1 order by c.id`,
      [t],
    );
    expect(rows).toEqual([
      { transaction_id: '9000000000000000000', meta: null },
      { transaction_id: '9000000000000000000', meta: null },
    ]);
  });
});
