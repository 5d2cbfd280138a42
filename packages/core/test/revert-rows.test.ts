import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, isThreadlineError, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { snapshot } from './revert-helpers.js';

const admin = ActorRef.admin('ops-1');

describeEachDb('revert: rows back to exactly the prior state', (db) => {
  it('reverts a key change that cascaded to children (ON UPDATE CASCADE): the cascade is part of the step', async () => {
    const p = uniqueName('casc_parent');
    const k = uniqueName('casc_child');
    await db().exec(`create table ${p} (id int primary key, name text);
      create table ${k} (id int primary key, parent_id int references ${p}(id) on update cascade, note text);
      insert into ${p} values (1, 'one'), (5, 'five'); insert into ${k} values (10, 1, 'a'), (11, 1, 'b'), (12, 5, 'c')`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [p, k] });
    const before = [await snapshot(db(), p, 'id'), await snapshot(db(), k, 'id')];
    const { auditTransactionId } = await tl.transaction(async (tx) => {
      await tx.query(`update ${p} set id = 2, name = 'two' where id = 1`);
      await tx.query(`update ${k} set note = 'c2' where id = 12`);
    });
    const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(plan.conflicts).toEqual([]);
    expect(plan.steps.map((s) => [s.table.replace(/^public\./, ''), s.op, s.pk])).toEqual([
      [p, 'update', { id: 2 }],
      [k, 'update', { id: 12 }],
    ]);
    await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan));
    expect([await snapshot(db(), p, 'id'), await snapshot(db(), k, 'id')]).toEqual(before);
  });

  it('shows keys beyond 2^53 exactly in the plan (steps and target), as the statements use them', async () => {
    const t = uniqueName('bigkey');
    await db().exec(`create table ${t} (id bigint primary key, v text);
      insert into ${t} values (9007199254740993, 'a'), (9223372036854775807, 'b')`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const { auditTransactionId } = await tl.transaction(async (tx) => {
      await tx.query(`update ${t} set v = 'changed' where id = 9007199254740993`);
      await tx.query(`delete from ${t} where id = 9223372036854775807`);
    });
    const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(plan.steps.map((s) => [s.op, s.pk])).toEqual([
      ['insert', { id: '9223372036854775807' }],
      ['update', { id: '9007199254740993' }],
    ]);
    expect(plan.steps[0]!.set).toEqual({ id: '9223372036854775807', v: 'b' });
    const row = await tl.revert.plan({ table: t, pk: { id: '9007199254740993' }, to: new Date(0) });
    expect(row.summary.target).toMatchObject({ pk: { id: '9007199254740993' } });
    expect(JSON.stringify(row.steps.map((s) => s.pk))).toContain('9007199254740993');
  });

  it('reverts inserts, updates and deletes across tables with foreign keys, row by row', async () => {
    const c = uniqueName('cust');
    const o = uniqueName('ord');
    await db().exec(`
      create table ${c} (id int primary key, name text not null, balance numeric(30,10), tags text[], meta jsonb,
                         seen timestamptz, big bigint, ratio float8, raw bytea);
      create table ${o} (id bigint generated always as identity primary key, customer_id int not null references ${c}(id),
                         total numeric(12,2), note text);
      insert into ${c} values (1, 'Ann', 12345678901234567890.1234567890, '{a,"b c"}', '{"x":[1,2,{"y":null}]}', '2026-01-02 03:04:05.123456+05', 9007199254740993, 0.1, '\\x00ff'),
                              (2, 'Bob', 0, null, null, null, null, null, null),
                              (3, 'Cy', 1.50, '{}', '[]', now(), -1, 1e-300, '');
      insert into ${o} (customer_id, total, note) values (1, 10.00, 'o1'), (2, 20.50, 'o2'), (3, 30, null);`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [c, o] });
    const before = [await snapshot(db(), c, 'id'), await snapshot(db(), o, 'id')];
    const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('bad-job') }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`insert into ${c} values (4, 'Dee', 4, '{d}', '{}', now(), 4, 4, '\\x04')`);
        await tx.query(`insert into ${o} (customer_id, total) values (4, 40), (1, 41)`);
        await tx.query(
          `update ${c} set name = 'ANN', balance = 0, tags = null, big = 1, ratio = 2, raw = null where id = 1`,
        );
        await tx.query(`update ${c} set name = 'Ann again' where id = 1`);
        await tx.query(`update ${o} set customer_id = 4 where id = 2`);
        await tx.query(`delete from ${o} where customer_id = 3`);
        await tx.query(`delete from ${c} where id = 3`);
      }),
    );
    expect(auditTransactionId).not.toBeNull();
    const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(plan.conflicts).toEqual([]);
    // c1 updated twice collapses to one UPDATE; c4 inserted -> DELETE; c3 deleted -> INSERT.
    expect(plan.steps.map((s) => [s.table.replace(/^public\./, ''), s.op, s.pk])).toEqual([
      [c, 'insert', { id: 3 }],
      [o, 'insert', { id: 3 }],
      [c, 'update', { id: 1 }],
      [o, 'update', { id: 2 }],
      [o, 'delete', { id: 5 }],
      [o, 'delete', { id: 4 }],
      [c, 'delete', { id: 4 }],
    ]);
    expect(plan.steps[2]!.set).toEqual({
      name: 'Ann',
      balance: '12345678901234567890.1234567890',
      tags: ['a', 'b c'],
      big: '9007199254740993',
      ratio: 0.1,
      raw: '\\x00ff',
    });
    expect(plan.summary.ops).toEqual({ insert: 2, update: 2, delete: 3 });
    const result = await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan));
    expect(result.applied).toBe(7);
    expect([await snapshot(db(), c, 'id'), await snapshot(db(), o, 'id')]).toEqual(before);
    const [tx] = await db().sql<{
      actor_ref: unknown;
      source: string;
      causation_id: string;
      name: string;
      comment: string;
    }>(
      `select t.actor_ref, t.source, t.causation_id, a.name, a.comment from threadline.audit_transactions t
         join threadline.audit_actions a on a.transaction_id = t.id where t.id = $1`,
      [result.auditTransactionId],
    );
    expect(tx).toEqual({
      actor_ref: { type: 'admin', id: 'ops-1' },
      source: 'threadline:revert',
      causation_id: auditTransactionId,
      name: 'threadline.revert',
      comment: plan.summary.text,
    });
  });

  it('reverts composite, non-id keys and a primary-key change', async () => {
    const t = uniqueName('member');
    await db().exec(`create table ${t} (org text, handle text, role text, primary key (org, handle));
      insert into ${t} values ('acme', 'ann', 'owner'), ('acme', 'bob', 'dev'), ('beta', 'ann', 'dev');`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const before = await snapshot(db(), t, 'org, handle');
    const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user(1) }, () =>
      tl.transaction(async (tx) => {
        await tx.query(
          `update ${t} set handle = 'robert', role = 'lead' where org = 'acme' and handle = 'bob'`,
        );
        await tx.query(`update ${t} set org = 'gamma' where org = 'beta'`);
        await tx.query(`delete from ${t} where handle = 'ann' and org = 'acme'`);
        await tx.query(`insert into ${t} values ('acme', 'ann', 'intern')`);
      }),
    );
    const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(plan.conflicts).toEqual([]);
    expect(plan.steps.map((s) => [s.op, s.pk, s.set])).toEqual([
      ['update', { org: 'acme', handle: 'ann' }, { role: 'owner' }],
      ['update', { org: 'gamma', handle: 'ann' }, { org: 'beta' }],
      ['update', { org: 'acme', handle: 'robert' }, { handle: 'bob', role: 'dev' }],
    ]);
    await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan));
    expect(await snapshot(db(), t, 'org, handle')).toEqual(before);
  });

  it('restores one row to its state after a given change, following its key changes', async () => {
    const t = uniqueName('doc');
    await db().exec(`create table ${t} (id int primary key, body text)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await runWithAuditContext({ actor: ActorRef.user(1) }, async () => {
      await tl.query(`insert into ${t} values (1, 'v1'), (2, 'other')`);
      await tl.query(`update ${t} set body = 'v2' where id = 1`);
    });
    const [mark] = await db().sql<{ id: string }>(
      `select id::text from threadline.audit_changes where table_name = $1 and op = 'update'`,
      [t],
    );
    const state = await snapshot(db(), t, 'id');
    await runWithAuditContext({ actor: ActorRef.user(2) }, async () => {
      await tl.query(`update ${t} set body = 'v3' where id = 1`);
      await tl.query(`update ${t} set id = 10 where id = 1`);
      await tl.query(`update ${t} set body = 'v4' where id = 10`);
      await tl.query(`update ${t} set body = 'changed too' where id = 2`);
    });
    const [{ at }] = (await db().sql<{ at: Date }>(
      `select captured_at as at from threadline.audit_changes where id = $1::bigint`,
      [mark!.id],
    )) as [{ at: Date }];
    const byTime = await tl.revert.plan({ table: t, pk: 1, to: new Date(at.getTime() + 1) });
    const plan = await tl.revert.plan({ table: t, pk: 1, to: mark!.id });
    expect(byTime.steps.map((s) => [s.op, s.pk, s.set])).toEqual(plan.steps.map((s) => [s.op, s.pk, s.set]));
    expect(plan.steps.map((s) => [s.op, s.pk, s.set])).toEqual([
      ['update', { id: 10 }, { id: 1, body: 'v2' }],
    ]);
    expect(plan.summary.changes).toBe(3);
    await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan));
    const now = await snapshot(db(), t, 'id');
    expect(now[0]).toBe(state[0]);
    expect(now[1]).toBe('{"id": 2, "body": "changed too"}');
  });

  it('requires an actor and names the fix', async () => {
    const t = uniqueName('noactor');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const { auditTransactionId } = await tl.transaction((tx) => tx.query(`insert into ${t} values (1)`));
    const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
    const error = await tl.revert.apply(plan).catch((e: unknown) => e);
    expect(isThreadlineError(error, 'INVALID_ACTOR')).toBe(true);
    expect((error as Error).message).toMatch(
      /^revert\.apply: no actor; pass \{ actor: ActorRef\.user\(id\) \}/,
    );
    expect(await snapshot(db(), t, 'id')).toEqual(['{"id": 1}']);
  });

  it('reverts a bulk delete of a self-referencing tree larger than one batch (found by the revert hunt)', async () => {
    const t = uniqueName('tree');
    await db().exec(`create table ${t} (id int primary key, parent int references ${t}(id), v text)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(
      `insert into ${t} select g, case when g > 1 then g - 1 end, 'x' || g from generate_series(1, 1500) g`,
    );
    const before = await snapshot(db(), t, 'id');
    const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('oops') }, () =>
      tl.transaction((tx) => tx.query(`delete from ${t}`)),
    );
    const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(plan.conflicts).toEqual([]);
    const applied = await tl.revert.apply(plan, { actor: ActorRef.admin('fixer'), batchSize: 200 });
    expect(applied.applied).toBe(1500);
    expect(await snapshot(db(), t, 'id')).toEqual(before);
  });
});
