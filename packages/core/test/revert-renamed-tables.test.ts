import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, isThreadlineError, runWithAuditContext, type Threadline } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { snapshot } from './revert-helpers.js';

const admin = ActorRef.admin('ops-1');

// Found by the keys hunt: revert resolved a table by the name its changes were recorded under,
// so after two tables swapped names it planned (and applied) the revert on the other table.
describeEachDb('revert: tables renamed since the reverted change', (db) => {
  async function swapped(): Promise<{ tl: Threadline; s: string; tx: string }> {
    const s = uniqueName('rvsw');
    await db().exec(`create schema ${s}; create table ${s}.a (id int primary key, v text);
      create table ${s}.b (id int primary key, v text)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [`${s}.a`, `${s}.b`] });
    await db().exec(`insert into ${s}.a values (1, 'a-orig'); insert into ${s}.b values (1, 'b-orig')`);
    const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('script') }, () =>
      tl.transaction((tx) => tx.query(`update ${s}.a set v = 'a-bad'`)),
    );
    await db().exec(`begin; alter table ${s}.a rename to tmp; alter table ${s}.b rename to a;
      alter table ${s}.tmp rename to b; commit`);
    return { tl, s, tx: auditTransactionId! };
  }
  const rows = async (s: string) => [
    ...(await snapshot(db(), `${s}.a`, 'id')).map((r) => `a:${r}`),
    ...(await snapshot(db(), `${s}.b`, 'id')).map((r) => `b:${r}`),
  ];

  it('a transaction is reverted on the table it changed, under the name it has now', async () => {
    const { tl, s, tx } = await swapped();
    const plan = await tl.revert.plan({ transactionId: tx });
    expect(plan.conflicts).toEqual([]);
    expect(plan.steps.map((st) => [st.table, st.recordedAs, st.op, st.set])).toEqual([
      [`${s}.b`, `${s}.a`, 'update', { v: 'a-orig' }],
    ]);
    expect(plan.summary.tables).toEqual([`${s}.b`]);
    expect(plan.summary.text).toContain(`renamed since: ${s}.b (recorded as ${s}.a)`);
    await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan));
    expect(await rows(s)).toEqual(['a:{"v": "b-orig", "id": 1}', 'b:{"v": "a-orig", "id": 1}']);
    // Planning again finds the revert itself, recorded under the new name, as a later change.
    const again = await tl.revert.plan({ transactionId: tx });
    expect(again.conflicts.map((c) => [c.table, c.kind])).toEqual([[`${s}.b`, 'changed_since']]);
  });

  it('later changes are looked for on the same table: under its new name, not on the table that took its old one', async () => {
    const { tl, s, tx } = await swapped();
    // The table now called a (the old b) changes: no conflict for the revert of the old a.
    await db().exec(`update ${s}.a set v = 'b-later'`);
    expect((await tl.revert.plan({ transactionId: tx })).conflicts).toEqual([]);
    // The changed table changes again under its new name: the revert would overwrite that.
    await runWithAuditContext({ actor: ActorRef.user('clerk') }, () =>
      tl.query(`update ${s}.b set v = 'a-later'`),
    );
    const plan = await tl.revert.plan({ transactionId: tx });
    expect(plan.conflicts.map((c) => [c.table, c.kind, c.actor])).toEqual([
      [`${s}.b`, 'changed_since', { type: 'user', id: 'clerk' }],
    ]);
    // Rows changed more than once (net.ts path): the same table, found the same way.
    const { auditTransactionId: twice } = await runWithAuditContext({ actor: ActorRef.user('script') }, () =>
      tl.transaction(async (t) => {
        await t.query(`update ${s}.b set v = 'x1'`);
        await t.query(`update ${s}.b set v = 'x2'`);
      }),
    );
    await db().exec(`alter table ${s}.b rename to c`);
    const netted = await tl.revert.plan({ transactionId: twice! });
    expect(netted.conflicts).toEqual([]);
    expect(netted.steps.map((st) => [st.table, st.recordedAs, st.set])).toEqual([
      [`${s}.c`, `${s}.b`, { v: 'a-later' }],
    ]);
  });

  it('a table dropped since, whose name another captured table has now, is a clear refusal', async () => {
    const { tl, s, tx } = await swapped();
    // Rebuild of the changed table (now b): dropped, and a new captured table takes the name.
    await db().exec(`drop table ${s}.b; create table ${s}.b (id int primary key, v text);
      insert into ${s}.b values (1, 'rebuilt')`);
    await tl.installTriggers({ tables: [`${s}.b`] });
    // Then the new table takes the recorded name a too.
    await db().exec(`alter table ${s}.a rename to old_b; alter table ${s}.b rename to a`);
    const before = await snapshot(db(), `${s}.a`, 'id');
    const error = await tl.revert.plan({ transactionId: tx }).catch((e: unknown) => e);
    expect(isThreadlineError(error, 'NOT_FOUND')).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^revert\\.plan: the table whose changes were recorded as ${s}\\.a \\(table id \\d+\\) is no longer captured \\(dropped, or its capture removed\\), and ${s}\\.a is now another table, so its changes cannot be reverted; revert them by hand$`,
      ),
    );
    expect(await snapshot(db(), `${s}.a`, 'id')).toEqual(before);
  });

  it('a row target names the table by its current name', async () => {
    const { tl, s, tx } = await swapped();
    const [change] = (await tl.history(`${s}.b`, 1)).entries.filter((e) => e.transactionId === tx);
    expect(change?.tableName).toBe('a'); // recorded under the old name
    const plan = await tl.revert.plan({ table: `${s}.b`, pk: 1, to: change!.id });
    expect(plan.steps).toEqual([]);
    const back = await tl.revert.plan({ table: `${s}.b`, pk: 1, to: new Date(0) });
    expect(back.steps.map((st) => [st.table, st.op])).toEqual([[`${s}.b`, 'delete']]);
  });
  // Found by the revert hunt (D4): a plan from plan() ran as it was made, addressing the table by
  // name, so after a name swap between plan and apply it wrote to the other table.
  it('a plan applied after the names were swapped since it was made is refused, changing nothing', async () => {
    const s = uniqueName('rvsp');
    await db().exec(`create schema ${s}; create table ${s}.a (id int primary key, v int);
      create table ${s}.b (id int primary key, v int); insert into ${s}.a values (1, 0); insert into ${s}.b values (1, 0)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [`${s}.a`, `${s}.b`] });
    const write = (sql: string) =>
      runWithAuditContext({ actor: ActorRef.user('script') }, () => tl.transaction((tx) => tx.query(sql)));
    const { auditTransactionId: t1 } = await write(`update ${s}.a set v = 10`);
    await write(`update ${s}.b set v = 10`);
    const plan = await tl.revert.plan({ transactionId: t1! });
    expect(plan.steps.map((st) => [st.table, st.op])).toEqual([[`${s}.a`, 'update']]);
    await db().exec(`begin; alter table ${s}.a rename to tmp; alter table ${s}.b rename to a;
      alter table ${s}.tmp rename to b; commit`);
    const error = await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan)).catch(
      (e: unknown) => e,
    );
    expect(isThreadlineError(error, 'REVERT_CONFLICT')).toBe(true);
    expect((error as Error).message).toBe(
      `revert.apply: ${s}.a is another table now: the table was renamed (or dropped) since the plan, so nothing was changed; plan again`,
    );
    expect(await rows(s)).toEqual(['a:{"v": 10, "id": 1}', 'b:{"v": 10, "id": 1}']);
    // Planned again, the revert writes to the changed table under its new name.
    await runWithAuditContext({ actor: admin }, async () =>
      tl.revert.apply(await tl.revert.plan({ transactionId: t1! })),
    );
    expect(await rows(s)).toEqual(['a:{"v": 10, "id": 1}', 'b:{"v": 0, "id": 1}']);
  });

  // Found by the revert hunt (D5): later changes were looked for by the table's name, which also
  // answers for a dropped table that had the name meanwhile, so its change was a false conflict.
  it("a dropped table's changes under the same name are not later changes of the reverted table", async () => {
    const s = uniqueName('rvdr');
    const s2 = uniqueName('rvdr2');
    await db().exec(`create schema ${s}; create schema ${s2}; create table ${s}.a (id int primary key, v int);
      insert into ${s}.a values (1, 0)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [`${s}.a`] });
    const { auditTransactionId: t1 } = await runWithAuditContext({ actor: ActorRef.user('script') }, () =>
      tl.transaction((tx) => tx.query(`update ${s}.a set v = 10`)),
    );
    await db().exec(`alter table ${s}.a rename to d; alter table ${s}.d set schema ${s2};
      create table ${s}.a (id int primary key, v int)`);
    await tl.installTriggers({ tables: [`${s}.a`] });
    await db().exec(`insert into ${s}.a values (1, 555); drop table ${s}.a;
      alter table ${s2}.d set schema ${s}; alter table ${s}.d rename to a`);
    const plan = await tl.revert.plan({ transactionId: t1! });
    expect(plan.conflicts).toEqual([]);
    expect(plan.steps.map((st) => [st.table, st.op, st.set, st.expect])).toEqual([
      [`${s}.a`, 'update', { v: 0 }, '{"v": 10, "id": 1}'],
    ]);
    await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan));
    expect(await snapshot(db(), `${s}.a`, 'id')).toEqual(['{"v": 0, "id": 1}']);
  });
});
