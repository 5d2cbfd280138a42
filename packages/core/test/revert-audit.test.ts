import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, type RevertProgress, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { auditTransactionCount, snapshot } from './revert-helpers.js';

const admin = ActorRef.admin('ops-1');

describeEachDb('revert: audited like any write', (db) => {
  it('a revert can be reverted, and the bundle shows who reverted it and when', async () => {
    const t = uniqueName('post');
    await db().exec(
      `create table ${t} (id int primary key, title text); insert into ${t} values (1, 'a'), (2, 'b')`,
    );
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const original = await snapshot(db(), t, 'id');
    const bad = await runWithAuditContext({ actor: ActorRef.user('u1') }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${t} set title = 'x' where id = 1`);
        await tx.query(`delete from ${t} where id = 2`);
        await tx.query(`insert into ${t} values (3, 'c')`);
      }),
    );
    const after = await snapshot(db(), t, 'id');
    const revert = await runWithAuditContext({ actor: admin }, async () =>
      tl.revert.apply(await tl.revert.plan({ transactionId: bad.auditTransactionId! }), {
        reason: 'bad deploy',
      }),
    );
    expect(await snapshot(db(), t, 'id')).toEqual(original);
    const bundle = await tl.auditTransaction(bad.auditTransactionId!);
    expect(bundle!.revertedBy).toEqual([
      {
        auditTransactionId: revert.auditTransactionId,
        actor: { type: 'admin', id: 'ops-1' },
        at: expect.stringMatching(/Z$/),
        actionId: revert.actionId,
      },
    ]);
    const revertBundle = await tl.auditTransaction(revert.auditTransactionId!);
    expect(revertBundle!.transaction).toMatchObject({
      source: 'threadline:revert',
      causationId: bad.auditTransactionId,
      actor: { type: 'admin', id: 'ops-1' },
    });
    expect(revertBundle!.action).toMatchObject({
      name: 'threadline.revert',
      reason: 'bad deploy',
      category: 'revert',
    });
    expect(revertBundle!.changes.map((c) => c.change.op).sort()).toEqual(['delete', 'insert', 'update']);
    // Undo the undo.
    const again = await runWithAuditContext({ actor: ActorRef.admin('ops-2') }, async () =>
      tl.revert.apply(await tl.revert.plan({ transactionId: revert.auditTransactionId! })),
    );
    expect(again.applied).toBe(3);
    expect(await snapshot(db(), t, 'id')).toEqual(after);
    // Reverting the original again now conflicts: the rows changed since (first by the revert).
    const stale = await tl.revert.plan({ transactionId: bad.auditTransactionId! });
    expect(stale.conflicts.map((c) => [c.kind, c.actor, c.transactionId])).toEqual([
      ['changed_since', { type: 'admin', id: 'ops-1' }, revert.auditTransactionId],
      ['changed_since', { type: 'admin', id: 'ops-1' }, revert.auditTransactionId],
      ['changed_since', { type: 'admin', id: 'ops-1' }, revert.auditTransactionId],
    ]);
  });

  it('reverts a correlation bundle spanning a request and the job it enqueued', async () => {
    const u = uniqueName('usr');
    const m = uniqueName('mail');
    await db().exec(`create table ${u} (id int primary key, email text);
      create table ${m} (id serial primary key, user_id int references ${u}(id), body text);
      insert into ${u} values (1, 'old@x');`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [u, m] });
    const before = [await snapshot(db(), u, 'id'), await snapshot(db(), m, 'id')];
    await runWithAuditContext({ actor: ActorRef.user(1), correlationId: 'req-77', source: 'http' }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${u} set email = 'new@x' where id = 1`);
        await tx.query(`insert into ${u} values (2, 'friend@x')`);
      }),
    );
    await runWithAuditContext({ actor: ActorRef.job('mailer'), correlationId: 'req-77', jobId: 'j1' }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`insert into ${m} (user_id, body) values (1, 'hi'), (2, 'welcome')`);
        await tx.query(`update ${u} set email = 'newer@x' where id = 1`);
      }),
    );
    await runWithAuditContext({ actor: ActorRef.user(9), correlationId: 'other' }, () =>
      tl.query(`insert into ${u} values (3, 'unrelated@x')`),
    );
    const plan = await tl.revert.plan({ correlationId: 'req-77' });
    expect(plan.summary.transactions).toHaveLength(2);
    expect(plan.conflicts).toEqual([]);
    expect(plan.steps.map((s) => [s.op, s.pk])).toEqual([
      ['update', { id: 1 }],
      ['delete', { id: 2 }],
      ['delete', { id: 1 }],
      ['delete', { id: 2 }],
    ]);
    const result = await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan));
    expect(await snapshot(db(), u, 'id')).toEqual([...before[0]!, '{"id": 3, "email": "unrelated@x"}']);
    expect(await snapshot(db(), m, 'id')).toEqual(before[1]);
    const [row] = await db().sql<{ causation_id: string }>(
      'select causation_id from threadline.audit_transactions where id = $1',
      [result.auditTransactionId],
    );
    expect(row!.causation_id).toBe('req-77');
  });

  it('reverts 10,000 rows in batches with progress, in one transaction', async () => {
    const t = uniqueName('bulk');
    await db().exec(`create table ${t} (id int primary key, price numeric(12,2), name text);
      insert into ${t} select g, g * 1.25, 'item ' || g from generate_series(1, 10000) g;`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const before = await snapshot(db(), t, 'id');
    const bad = await runWithAuditContext({ actor: ActorRef.system('script') }, () =>
      tl.transaction((tx) => tx.query(`update ${t} set price = 0`)),
    );
    const plan = await tl.revert.plan({ transactionId: bad.auditTransactionId! });
    expect(plan.steps).toHaveLength(10000);
    const progress: RevertProgress[] = [];
    const txBefore = await auditTransactionCount(db());
    const result = await runWithAuditContext({ actor: admin }, () =>
      tl.revert.apply(plan, { batchSize: 2500, onProgress: (p) => progress.push(p) }),
    );
    expect(result.applied).toBe(10000);
    expect(progress.map((p) => p.done)).toEqual([2500, 5000, 7500, 10000]);
    expect(progress.every((p) => p.total === 10000 && p.op === 'update')).toBe(true);
    expect(await auditTransactionCount(db())).toBe(txBefore + 1);
    expect(await snapshot(db(), t, 'id')).toEqual(before);
  }, 600_000);

  it('handles hostile identifiers and values', async () => {
    const table = `Odd "T"; drop table x; --${uniqueName('')}`;
    const q = `"${table.replace(/"/g, '""')}"`;
    await db().exec(`create table ${q} ("Key Col" text, "iD" int, "sel""ect" text, "$1" jsonb, primary key ("Key Col", "iD"));
      insert into ${q} values ('k''1', 1, 'a', '{"a": "\\\\u0000x"}'), ('', 2, E'\\\\', '"str"');`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [`public.${q}`] });
    const before = await snapshot(db(), q, '"iD"');
    const hostile = `'); delete from ${q}; --\u2028"\\`;
    const bad = await runWithAuditContext({ actor: ActorRef.user(1) }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${q} set "sel""ect" = $1, "$1" = $2::jsonb where "iD" = 1`, [
          hostile,
          JSON.stringify({ x: hostile }),
        ]);
        await tx.query(`delete from ${q} where "iD" = 2`);
        await tx.query(`insert into ${q} values ($1, 3, $1, 'null')`, [hostile]);
      }),
    );
    const plan = await tl.revert.plan({ transactionId: bad.auditTransactionId! });
    expect(plan.conflicts).toEqual([]);
    await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan));
    expect(await snapshot(db(), q, '"iD"')).toEqual(before);
  });
});
