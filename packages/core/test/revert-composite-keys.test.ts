import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, isThreadlineError, type RevertPlan, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { snapshot } from './revert-helpers.js';

/**
 * A key column whose values are objects or arrays in jsonb (a composite type, an array type): the
 * key a plan shows (`{ id: { a: 1, b: 'x' } }`) was refused when given back as a row target's
 * `pk`. Whatever form a plan or the history shows is now accepted and addresses the same row: the
 * plan's key object, the column's value alone, or its text form; a value that is no value of the
 * column is refused with a clear error.
 */
const admin = ActorRef.admin('ops');
const tricky = 'x, "y" (z) \\ \'q\'';

describeEachDb('revert: a row target by a composite or array key', (db) => {
  it('takes back the key a plan shows for a composite-type key column (quotes, commas, parentheses in text fields)', async () => {
    const t = uniqueName('compkey');
    const ty = uniqueName('compty');
    await db().exec(`create type ${ty} as (a int, b text, c numeric);
      create table ${t} (id ${ty} primary key, v text);
      insert into ${t} values (row(1, ${lit(tricky)}, 2.50), 'one'), (row(2, NULL, 0), 'two')`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const before = await snapshot(db(), t, 'v');
    const { auditTransactionId } = await tl.transaction(async (tx) => {
      await tx.query(`update ${t} set v = v || '!'`);
    });
    const byTx = await tl.revert.plan({ transactionId: auditTransactionId! });
    const shown = byTx.steps.map((s) => s.pk);
    expect(shown).toContainEqual({ id: { a: 1, b: tricky, c: 2.5 } });
    expect(shown).toContainEqual({ id: { a: 2, b: null, c: 0 } });
    // The history takes the same key (row_key() is shared).
    expect((await tl.history(t, shown[0]!)).entries).toHaveLength(1);
    for (const step of byTx.steps) {
      const value = (step.pk as { id: Record<string, unknown> }).id;
      const text = (
        await db().sql<{ t: string }>(`select id::text as t from ${t} where v = $1`, [step.set!.v + '!'])
      )[0]!.t;
      for (const pk of [step.pk, value, { id: text }, text, { id: { ...value, c: String(value.c) } }]) {
        const plan = await tl.revert.plan({ table: t, pk: pk as never, to: new Date(0) });
        expect(plan.steps.map((s) => [s.op, s.pk, s.set])).toEqual([[step.op, step.pk, step.set]]);
        expect(plan.steps[0]!.sql).toBe(step.sql);
      }
    }
    const one = await tl.revert.plan({ table: t, pk: byTx.steps[0]!.pk, to: new Date(0) });
    await runWithAuditContext({ actor: admin }, () =>
      tl.revert.apply(JSON.parse(JSON.stringify(one)) as RevertPlan),
    );
    const two = await tl.revert.plan({ table: t, pk: byTx.steps[1]!.pk, to: new Date(0) });
    await runWithAuditContext({ actor: admin }, () => tl.revert.apply(two));
    expect(await snapshot(db(), t, 'v')).toEqual(before);
    // Not a value of the type: a field it does not have, a value of the wrong type, an array.
    for (const pk of [
      { id: { a: 1, zz: 2 } },
      { id: { a: 'one' } },
      { id: [1, 2] },
      { a: 'one' },
      { id: null },
    ]) {
      const error = await tl.revert
        .plan({ table: t, pk: pk as never, to: new Date(0) })
        .catch((e: unknown) => e);
      expect(isThreadlineError(error, 'QUERY_INVALID'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/key column id|key/);
    }
  });

  it('takes back array keys and a composite column inside a multi-column key', async () => {
    const a = uniqueName('arrkey');
    const m = uniqueName('multikey');
    const ty = uniqueName('pairty');
    await db().exec(`create type ${ty} as (x int, y text);
      create table ${a} (id int[] primary key, v text); insert into ${a} values ('{1,2}', 'a');
      create table ${m} (n int, p ${ty}, v text, primary key (n, p)); insert into ${m} values (1, row(5, '(,)'), 'a')`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [a, m] });
    const { auditTransactionId } = await tl.transaction(async (tx) => {
      await tx.query(`update ${a} set v = 'b'`);
      await tx.query(`update ${m} set v = 'b'`);
    });
    const byTx = await tl.revert.plan({ transactionId: auditTransactionId! });
    const pks = byTx.steps.map((s) => s.pk);
    expect(pks).toContainEqual({ id: [1, 2] });
    expect(pks).toContainEqual({ n: 1, p: { x: 5, y: '(,)' } });
    for (const [table, pk] of [
      [a, { id: [1, 2] }],
      [a, [1, 2]],
      [a, '{1,2}'],
      [m, { n: 1, p: { x: 5, y: '(,)' } }],
      [m, { n: '1', p: '(5,"(,)")' }],
    ] as const) {
      const plan = await tl.revert.plan({ table, pk: pk as never, to: new Date(0) });
      expect(plan.steps.map((s) => [s.op, s.set])).toEqual([['update', { v: 'a' }]]);
    }
    const wrong = await tl.revert
      .plan({ table: m, pk: [1] as never, to: new Date(0) })
      .catch((e: unknown) => e);
    expect(isThreadlineError(wrong, 'QUERY_INVALID'), String(wrong)).toBe(true);
    expect((wrong as Error).message).toMatch(/naming every key column \(n, p\), not an array/);
  });
});

const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
