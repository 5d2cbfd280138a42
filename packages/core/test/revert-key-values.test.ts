import { type DbHandle, describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import {
  ActorRef,
  isThreadlineError,
  type RevertPlan,
  runWithAuditContext,
  type Threadline,
} from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { snapshot } from './revert-helpers.js';

/**
 * A row target finds its row whenever the key given equals the row's key under the key column's
 * own type (what `WHERE id = $1` finds), not only when the key's jsonb text is the stored text:
 * a numeric key stored as 6.0000 is addressed as 6, "6", " 6 " or "6e0"; a key stored as 1 and
 * as 1.0 across one row's changes is one row, in the plan and at apply (also for a plan read back
 * from JSON, which apply plans again from its summary); a key column whose type was changed by
 * ALTER TABLE between the row's changes still has all of them followed.
 */
const admin = ActorRef.admin('ops');
const apply = (tl: Threadline, plan: RevertPlan) =>
  runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan));
const shape = (plan: RevertPlan) => plan.steps.map((s) => [s.op, s.sql, JSON.stringify(s.params)]);

/** A captured table with `rows` inserted before capture (so a row target back to 1970 updates them). */
async function capturedTable(db: () => DbHandle, type: string, prefix: string, rows: string) {
  const t = uniqueName(prefix);
  await db().exec(`create table ${t} (id ${type} primary key, v text); insert into ${t} values ${rows}`);
  const tl = await installed(db());
  await tl.installTriggers({ tables: [t] });
  return { t, tl };
}

describeEachDb('revert: a row target by the value of its key', (db) => {
  it('addresses a numeric key stored as 6.0000 as 6, "6", " 6 ", "6e0" or 6.0 (unconstrained numeric)', async () => {
    const { t, tl } = await capturedTable(db, 'numeric', 'numkey', `(6.0000, 'a'), (7, 'z')`);
    const before = await snapshot(db(), t, 'id');
    const { auditTransactionId } = await tl.transaction(async (tx) => {
      await tx.query(`update ${t} set v = 'b' where id = 6`);
    });
    const byTx = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(byTx.steps.map((s) => [s.op, s.pk])).toEqual([['update', { id: 6 }]]);
    for (const pk of [6, '6', ' 6 ', '6e0', 6.0, '6.00', { id: 6 }, byTx.steps[0]!.pk]) {
      const plan = await tl.revert.plan({ table: t, pk, to: new Date(0) });
      expect(plan.steps.map((s) => [s.op, s.pk, s.set])).toEqual([['update', { id: 6 }, { v: 'a' }]]);
      expect(plan.conflicts).toEqual([]);
    }
    const plan = await tl.revert.plan({ table: t, pk: 6, to: new Date(0) });
    // Read back from JSON: apply plans it again from its summary and finds the same row.
    await apply(tl, JSON.parse(JSON.stringify(plan)) as RevertPlan);
    expect(await snapshot(db(), t, 'id')).toEqual(before);
  });

  it('addresses a numeric(10,4) key (captured as 6.0000) by 6, and an ALTER TYPE since does not hide changes before it', async () => {
    const { t, tl } = await capturedTable(db, 'numeric(10,4)', 'numscale', `(6, 'a')`);
    const before = await snapshot(db(), t, 'id');
    await tl.transaction(async (tx) => {
      await tx.query(`update ${t} set v = 'b' where id = 6`);
    });
    expect((await tl.revert.plan({ table: t, pk: 6, to: new Date(0) })).steps.map((s) => s.set)).toEqual([
      { v: 'a' },
    ]);
    // The column's scale changes: the table now holds 6.00, the earlier changes 6.0000.
    await db().exec(`alter table ${t} alter column id type numeric(10,2)`);
    await tl.installTriggers({ tables: [t] });
    await tl.transaction(async (tx) => {
      await tx.query(`update ${t} set v = 'c' where id = 6`);
    });
    for (const pk of [6, '6.0000', '6.00']) {
      const plan = await tl.revert.plan({ table: t, pk, to: new Date(0) });
      expect(plan.steps.map((s) => [s.op, s.set])).toEqual([['update', { v: 'a' }]]);
    }
    await apply(tl, await tl.revert.plan({ table: t, pk: 6, to: new Date(0) }));
    expect((await snapshot(db(), t, 'id')).map((r) => JSON.parse(r).v)).toEqual(
      before.map((r) => JSON.parse(r).v),
    );
  });

  it('follows a key column changed from int to text between changes (1, then "1")', async () => {
    const { t, tl } = await capturedTable(db, 'int', 'inttext', `(1, 'a'), (10, 'x')`);
    await tl.transaction(async (tx) => {
      await tx.query(`update ${t} set v = 'b' where id = 1`);
      await tx.query(`update ${t} set v = 'y' where id = 10`);
    });
    await db().exec(`alter table ${t} alter column id type text`);
    await tl.installTriggers({ tables: [t] });
    await tl.transaction(async (tx) => {
      await tx.query(`update ${t} set v = 'c' where id = '1'`);
    });
    for (const pk of ['1', 1]) {
      const plan = await tl.revert.plan({ table: t, pk, to: new Date(0) });
      expect(plan.steps.map((s) => [s.op, s.pk, s.set])).toEqual([['update', { id: '1' }, { v: 'a' }]]);
    }
    // "1.0" is another text key: no row, nothing to revert (1 = 1.0 was an int's equality, not text's).
    expect((await tl.revert.plan({ table: t, pk: '1.0', to: new Date(0) })).steps).toEqual([]);
    await apply(tl, await tl.revert.plan({ table: t, pk: '1', to: new Date(0) }));
    expect(await db().sql(`select id, v from ${t} order by id`)).toEqual([
      { id: '1', v: 'a' },
      { id: '10', v: 'y' },
    ]);
  });

  it('treats a key written as 1 and moved to 1.0 as one row: plan and apply (also from JSON) agree', async () => {
    const { t, tl } = await capturedTable(db, 'numeric', 'onezero', `(100, 'other')`);
    await tl.transaction(async (tx) => {
      await tx.query(`insert into ${t} values (1, 'a')`);
    });
    await tl.transaction(async (tx) => {
      await tx.query(`update ${t} set id = 1.0, v = 'b' where id = 1`);
    });
    await tl.transaction(async (tx) => {
      await tx.query(`update ${t} set v = 'c' where id = 1.0`);
    });
    const plans = [];
    for (const pk of [1, '1.0', '1.00', { id: 1 }]) {
      const plan = await tl.revert.plan({ table: t, pk, to: new Date(0) });
      expect(plan.steps.map((s) => [s.op, s.pk])).toEqual([['delete', { id: 1 }]]);
      expect(plan.conflicts).toEqual([]);
      plans.push(plan);
    }
    expect(new Set(plans.map((p) => p.summary.text)).size).toBe(1);
    // Back to a change id (the insert): the key given is compared with that change's by value too.
    const [{ id }] = (await db().sql<{ id: string }>(
      `select min(id)::text as id from threadline.audit_changes where table_name = $1`,
      [t],
    )) as [{ id: string }];
    const byChange = [];
    for (const pk of [1, '1.0']) byChange.push(shape(await tl.revert.plan({ table: t, pk, to: id })));
    expect(byChange[0]).toEqual(byChange[1]);
    expect(byChange[0]).toHaveLength(1);
    expect(shape(plans[0]!)).toEqual(shape(plans[1]!));
    await apply(tl, JSON.parse(JSON.stringify(plans[1])) as RevertPlan);
    expect(await db().sql(`select v from ${t}`)).toEqual([{ v: 'other' }]);
  });

  it('a transaction that changed a key column type between two changes of a row: one step, and apply agrees', async () => {
    const { t, tl } = await capturedTable(db, 'numeric(10,4)', 'txscale', `(6, 'a'), (7, 'z')`);
    const { auditTransactionId } = await tl.transaction(async (tx) => {
      await tx.query(`update ${t} set v = 'b' where id = 6`);
      await tx.query(`alter table ${t} alter column id type numeric(10,2)`);
      await tx.query(`update ${t} set v = 'c' where id = 6`);
    });
    const keys = await db().sql<{ k: string }>(
      `select table_pk::text as k from threadline.audit_changes where table_name = $1 order by id`,
      [t],
    );
    const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(plan.conflicts).toEqual([]);
    expect(plan.steps.map((s) => [s.op, s.pk])).toEqual([['update', { id: 6 }]]);
    expect(plan.steps[0]!.set).toMatchObject({ v: 'a' });
    await apply(tl, plan);
    expect(await db().sql(`select id::text, v from ${t} order by id`)).toEqual([
      { id: '6.00', v: 'a' },
      { id: '7.00', v: 'z' },
    ]);
    expect(keys.map((k) => k.k)).toEqual(['{"id": 6.0000}', '{"id": 6.00}']);
  });

  it('refuses keys that are no value of the column with a clear error, and finds no row for a value no row has', async () => {
    const { t, tl } = await capturedTable(db, 'numeric(10,4)', 'numhostile', `(6, 'a')`);
    await tl.transaction(async (tx) => {
      await tx.query(`update ${t} set v = 'b' where id = 6`);
    });
    for (const pk of ['NaN', '123456', '6.00001', '99999999999999999999999999999999999999']) {
      const plan = await tl.revert.plan({ table: t, pk, to: new Date(0) }).catch((e: unknown) => e);
      if (isThreadlineError(plan)) expect(plan.code, plan.message).toBe('QUERY_INVALID');
      else expect((plan as RevertPlan).steps).toEqual([]);
    }
    for (const pk of ['six', true, '1e400', { id: { a: 1 } }, [6], { id: null }, { nope: 6 }]) {
      const error = await tl.revert
        .plan({ table: t, pk: pk as never, to: new Date(0) })
        .catch((e: unknown) => e);
      expect(isThreadlineError(error), String(error)).toBe(true);
      expect((error as { code: string }).code, (error as Error).message).toBe('QUERY_INVALID');
      expect((error as Error).message).toMatch(/key|numeric/);
    }
  });
});
