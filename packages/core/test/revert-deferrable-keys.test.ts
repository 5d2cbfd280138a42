import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, isThreadlineError, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { revertOfStatements, snapshot } from './revert-helpers.js';

/**
 * Under a DEFERRABLE primary key a row can move onto (or be inserted at) a key another row still
 * holds, until the end of the statement or of the transaction: a later change of that key cannot
 * be told to be either row's. Netting them as one row moving on overwrote one row with another's
 * values; the plan refuses those rows (key_cycle) and nothing is changed.
 */
describeEachDb('revert: keys shared for a moment under a deferrable primary key', (db) => {
  for (const [name, table, statements] of [
    ['shift in one statement', 'deferrable', ['update $T set id = id + 1 where id >= 3']],
    ['swap in one statement', 'deferrable', ['update $T set id = 3 - id where id <= 2']],
    [
      'swap over two statements, deferred to commit',
      'deferrable initially deferred',
      ['update $T set id = 2 where id = 1', `update $T set id = 1 where id = 2 and v = 'v2'`],
    ],
    [
      'a duplicate inserted, then the old row deleted',
      'deferrable initially deferred',
      [`insert into $T values (1, 'dup')`, `delete from $T where id = 1 and v = 'v1'`],
    ],
  ] as const) {
    it(`${name}: refused as key_cycle (REVERT_REFUSED), nothing changed`, async () => {
      const { t, tl, after, plan } = await revertOfStatements(db(), table, 5, statements);
      expect(plan.conflicts.length).toBeGreaterThan(0);
      expect(plan.conflicts.every((c) => c.kind === 'key_cycle')).toBe(true);
      const error = await runWithAuditContext({ actor: ActorRef.admin('a') }, () =>
        tl.revert.apply(plan, { force: true }),
      ).catch((e: unknown) => e);
      expect(isThreadlineError(error, 'REVERT_REFUSED')).toBe(true);
      expect(await snapshot(db(), t, 'id')).toEqual(after);
    });
  }

  for (const [name, table, statements] of [
    [
      'insert, then update the new row',
      'deferrable',
      [`insert into $T values (9, 'n')`, `update $T set v = 'm' where id = 9`],
    ],
    [
      'insert, then update the new row, deferred to commit',
      'deferrable initially deferred',
      [`insert into $T values (9, 'n')`, `update $T set v = 'm' where id = 9`],
    ],
    [
      'move to a free key, then edit and delete',
      'deferrable',
      [
        'update $T set id = 9 where id = 1',
        `update $T set v = 'm' where id = 9`,
        'delete from $T where id = 2',
      ],
    ],
  ] as const) {
    it(`${name}: one row all along (its before image is the row left at the key), so it reverts`, async () => {
      const { t, tl, before, plan } = await revertOfStatements(db(), table, 5, statements);
      expect(plan.conflicts).toEqual([]);
      await runWithAuditContext({ actor: ActorRef.admin('a') }, () => tl.revert.apply(plan));
      expect(await snapshot(db(), t, 'id')).toEqual(before);
    });
  }

  it('one statement changing one row twice (two ON DELETE SET NULL cascades) is still one row', async () => {
    const users = uniqueName('users');
    const docs = uniqueName('docs');
    await db().exec(
      `create table ${users} (id int primary key);
       create table ${docs} (id int primary key, created_by int references ${users} on delete set null,
                             updated_by int references ${users} on delete set null);
       insert into ${users} values (1), (2);
       insert into ${docs} values (10, 1, 1), (11, 1, 2)`,
    );
    const tl = await installed(db());
    await tl.installTriggers({ tables: [users, docs] });
    const before = [await snapshot(db(), users, 'id'), await snapshot(db(), docs, 'id')];
    const bad = await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
      tl.transaction((tx) => tx.query(`delete from ${users} where id = 1`)),
    );
    const plan = await tl.revert.plan({ transactionId: bad.auditTransactionId! });
    expect(plan.conflicts).toEqual([]);
    expect(plan.steps.map((s) => [s.op, s.pk])).toEqual([
      ['insert', { id: 1 }],
      ['update', { id: 10 }],
      ['update', { id: 11 }],
    ]);
    await runWithAuditContext({ actor: ActorRef.admin('a') }, () => tl.revert.apply(plan));
    expect([await snapshot(db(), users, 'id'), await snapshot(db(), docs, 'id')]).toEqual(before);
  });

  it('keys moved and reused on a table whose key is not deferrable still revert', async () => {
    const t = uniqueName('plain');
    await db().exec(
      `create table ${t} (id int primary key, v text); insert into ${t} select g, 'v' || g from generate_series(1, 5) g`,
    );
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const before = await snapshot(db(), t, 'id');
    const bad = await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${t} set id = 10 where id = 1`);
        await tx.query(`update ${t} set id = 11, v = 'moved twice' where id = 10`);
        await tx.query(`insert into ${t} values (1, 'new')`);
        await tx.query(`update ${t} set v = 'new, changed' where id = 1`);
      }),
    );
    const plan = await tl.revert.plan({ transactionId: bad.auditTransactionId! });
    expect(plan.conflicts).toEqual([]);
    await runWithAuditContext({ actor: ActorRef.admin('a') }, () => tl.revert.apply(plan));
    expect(await snapshot(db(), t, 'id')).toEqual(before);
  });
});
