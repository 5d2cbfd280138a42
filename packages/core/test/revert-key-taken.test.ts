import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { snapshot } from './revert-helpers.js';

// A row the revert needs is not where the revert needs it: a key it would give a row back (a
// re-inserted row's key, or the old key of a row the reverted change moved) is held by another row
// now (key_taken), or a row it would update or delete was deleted since (deleted_since). Both are
// reported by the plan, and force does not override them (apply would fail on either, force or not).
describeEachDb('revert: keys taken and rows deleted since', (db) => {
  const setup = async (prefix: string) => {
    const t = uniqueName(prefix);
    await db().exec(`create table ${t} (id int primary key, n int)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const as = (id: string, fn: (q: (sql: string) => Promise<unknown>) => Promise<unknown>) =>
      runWithAuditContext({ actor: ActorRef.user(id) }, () =>
        tl.transaction((tx) => fn((sql) => tx.query(sql))),
      );
    const w = (id: string, sql: string) => as(id, (q) => q(sql));
    await w('setup', `insert into ${t} select g, 0 from generate_series(1, 10) g`);
    return { t, tl, as, w };
  };
  const kinds = (plan: { conflicts: { kind: string; pk: Record<string, unknown>; actor?: unknown }[] }) =>
    plan.conflicts
      .map((c) => [c.kind, c.pk, c.actor])
      .sort((x, y) => JSON.stringify(x[1]).localeCompare(JSON.stringify(y[1])));

  it('reports an old key a moved row would get back that another row holds now', async () => {
    const { t, tl, as, w } = await setup('taken');
    // 1 -> 101 (its only change: set-steps.ts) and 3 -> 103 then updated (two changes: net.ts);
    // 4 -> 104, whose key 4 is taken later and freed again: no conflict.
    const { auditTransactionId: rev } = await as('bulk', async (q) => {
      await q(`update ${t} set id = id + 100 where id in (1, 3, 4)`);
      await q(`update ${t} set n = 9 where id = 103`);
    });
    await w('mover', `update ${t} set id = 1 where id = 2`);
    await w('inserter', `insert into ${t} values (3, 33)`);
    await w('x', `insert into ${t} values (4, 44)`);
    await w('y', `update ${t} set id = 40 where id = 4`);
    const plan = await tl.revert.plan({ transactionId: rev! });
    expect(kinds(plan)).toEqual([
      ['key_taken', { id: 101 }, { type: 'user', id: 'mover' }],
      ['key_taken', { id: 103 }, { type: 'user', id: 'inserter' }],
    ]);
    expect(plan.conflicts.find((c) => c.pk.id === 101)!.detail).toContain(
      `back key {"id": 1}, which row ${t} {"id": 1} holds now`,
    );
    expect(plan.summary.conflicts).toMatchObject({ key_taken: 2, changed_since: 0 });
    const before = await snapshot(db(), t, 'id');
    const actor = { type: 'user' as const, id: 'rv' };
    await expect(tl.revert.apply(plan, { actor, force: true })).rejects.toMatchObject({
      code: 'REVERT_REFUSED',
    });
    expect(await snapshot(db(), t, 'id')).toEqual(before);
  });

  it('reports re-inserted keys and deleted rows as conflicts force does not override', async () => {
    const { t, tl, as, w } = await setup('gone');
    const { auditTransactionId: rev } = await as('bulk', async (q) => {
      await q(`delete from ${t} where id in (5, 6)`);
      await q(`update ${t} set n = 1 where id = 2`);
    });
    await w('inserter', `insert into ${t} values (5, 55)`);
    await w('mover', `update ${t} set id = 6 where id = 7`); // another row moved into the freed key 6
    await w('deleter', `delete from ${t} where id = 2`);
    const plan = await tl.revert.plan({ transactionId: rev! });
    expect(kinds(plan)).toEqual([
      ['deleted_since', { id: 2 }, { type: 'user', id: 'deleter' }],
      ['key_taken', { id: 5 }, { type: 'user', id: 'inserter' }],
      ['key_taken', { id: 6 }, { type: 'user', id: 'mover' }],
    ]);
    expect(plan.summary.conflicts).toMatchObject({ key_taken: 2, deleted_since: 1, changed_since: 0 });
    const before = await snapshot(db(), t, 'id');
    const actor = { type: 'user' as const, id: 'rv' };
    await expect(tl.revert.apply(plan, { actor, force: true })).rejects.toMatchObject({
      code: 'REVERT_REFUSED',
    });
    expect(await snapshot(db(), t, 'id')).toEqual(before);
  });

  it('leaves a key freed again and a row inserted again to force (changed_since), which overwrites them', async () => {
    const { t, tl, as, w } = await setup('force');
    const { auditTransactionId: rev } = await as('bulk', async (q) => {
      await q(`delete from ${t} where id = 8`);
      await q(`update ${t} set n = 1 where id = 9`);
    });
    await w('a', `insert into ${t} values (8, 88)`);
    await w('b', `delete from ${t} where id = 8`);
    await w('c', `delete from ${t} where id = 9`);
    await w('d', `insert into ${t} values (9, 99)`);
    const plan = await tl.revert.plan({ transactionId: rev! });
    expect(kinds(plan)).toEqual([
      ['changed_since', { id: 8 }, { type: 'user', id: 'a' }],
      ['changed_since', { id: 9 }, { type: 'user', id: 'c' }],
    ]);
    await tl.revert.apply(plan, { actor: { type: 'user', id: 'rv' }, force: true });
    const rows = await db().sql<{ id: number; n: number }>(
      `select id, n from ${t} where id in (8, 9) order by id`,
    );
    expect(rows).toEqual([
      { id: 8, n: 0 },
      { id: 9, n: 0 },
    ]);
  });
});
