import { inspect } from 'node:util';
import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

describeEachDb('revert: the plan object', (db) => {
  it('is frozen all the way down, and its parsed pk / set read as plain values (spread, JSON, equality)', async () => {
    const t = uniqueName('plan_obj');
    await db().sql(`create table ${t} (id bigint primary key, price numeric, doc jsonb, name text)`);
    await db().sql(
      `insert into ${t} select g, g * 1.5, jsonb_build_object('n', g, 'deep', jsonb_build_array(g)), 'r' || g
         from generate_series(1, 5) g`,
    );
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const bad = await runWithAuditContext({ actor: ActorRef.user('job') }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${t} set price = 0, doc = '{"x": [1]}' where id <= 2`);
        await tx.query(`delete from ${t} where id = 3`);
        await tx.query(`insert into ${t} values (9007199254740993, 1, null, 'big')`);
      }),
    );
    const plan = await tl.revert.plan({ transactionId: bad.auditTransactionId! });
    expect(plan.steps.map((s) => [s.op, s.pk])).toEqual([
      ['insert', { id: 3 }],
      ['update', { id: 2 }],
      ['update', { id: 1 }],
      ['delete', { id: '9007199254740993' }],
    ]);
    const update = plan.steps[2]!;
    const insert = plan.steps[0]!;
    const del = plan.steps[3]!;
    expect(update.set).toEqual({ doc: { deep: [1], n: 1 }, price: 1.5 });
    expect(insert.set).toEqual({ id: 3, price: 4.5, doc: { deep: [3], n: 3 }, name: 'r3' });
    expect('set' in del).toBe(false);
    // The same object on every read, frozen, nested values too.
    expect(update.set).toBe(update.set);
    expect(update.pk).toBe(update.pk);
    for (const value of [
      plan,
      plan.steps,
      update,
      update.pk,
      update.set,
      update.set!.doc,
      insert.set,
      update.params,
    ]) {
      expect(Object.isFrozen(value)).toBe(true);
    }
    // Every object the plan reaches (freeze.ts freezes a step's known fields directly).
    const walk = (value: unknown): void => {
      if (typeof value !== 'object' || value === null) return;
      expect(Object.isFrozen(value)).toBe(true);
      for (const inner of Object.values(value)) walk(inner);
    };
    walk(plan);
    expect(() => {
      (update as { pk: unknown }).pk = { id: 7 };
    }).toThrow(TypeError);
    expect(() => {
      (update.set as Record<string, unknown>).price = 7;
    }).toThrow(TypeError);
    expect(update.set).toEqual({ doc: { deep: [1], n: 1 }, price: 1.5 });
    expect(() => {
      (update.params as string[])[0] = '{"id": 999}';
    }).toThrow(TypeError);
    // console.log shows the values, not [Getter].
    const shown = inspect(plan.steps, { depth: 4 });
    expect(shown).not.toContain('Getter');
    expect(shown).toContain("pk: { id: '9007199254740993' }");
    expect(shown).toContain('doc: { n: 1, deep: [ 1 ] }');
    // Values, not getters, to anything that copies or serializes a step.
    const copy = { ...update };
    expect(Object.getOwnPropertyDescriptor(copy, 'pk')).toMatchObject({ value: { id: 1 } });
    const json = JSON.parse(JSON.stringify(plan.steps)) as { pk: unknown; set?: unknown }[];
    expect(json.map((s) => [s.pk, s.set])).toEqual([
      [{ id: 3 }, { id: 3, price: 4.5, doc: { deep: [3], n: 3 }, name: 'r3' }],
      [{ id: 2 }, { doc: { deep: [2], n: 2 }, price: 3 }],
      [{ id: 1 }, { doc: { deep: [1], n: 1 }, price: 1.5 }],
      [{ id: '9007199254740993' }, undefined],
    ]);
    // A copy of the plan (steps spread into plain objects) still applies: apply plans again and compares.
    const result = await runWithAuditContext({ actor: ActorRef.admin('ops') }, () =>
      tl.revert.apply({ ...plan, steps: plan.steps.map((s) => ({ ...s })) }),
    );
    expect(result.applied).toBe(4);
  });
});
