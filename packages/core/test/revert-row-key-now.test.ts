import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { snapshot } from './revert-helpers.js';

/**
 * A row target `{ table, pk, to: Date }` names the row by the key it had at `to`; the key a plan
 * or the history shows is the one it has now. After a key change since, the key now found no
 * change at all, and the plan said there was nothing to undo. It now follows the moves into that
 * key back to the point, and plans the same row as its key then does.
 */
describeEachDb('revert: a row target by the key the row has now, after a key change', (db) => {
  it('plans and restores the row, the same plan as by its key at the point', async () => {
    const t = uniqueName('keynow');
    await db().exec(`create table ${t} (id int primary key, v text);
      insert into ${t} select g, 'v' || g from generate_series(1, 3) g`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const before = await snapshot(db(), t, 'id');
    await db().exec('select pg_sleep(0.01)');
    const [{ at }] = (await db().sql<{ at: Date }>('select clock_timestamp() as at')) as [{ at: Date }];
    await db().exec('select pg_sleep(0.01)');
    await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${t} set id = 10 where id = 1`);
        await tx.query(`update ${t} set v = 'bad' where id = 10`);
        await tx.query(`update ${t} set id = 11 where id = 10`);
      }),
    );
    const byNow = await tl.revert.plan({ table: t, pk: { id: 11 }, to: at });
    const byThen = await tl.revert.plan({ table: t, pk: { id: 1 }, to: at });
    expect(byNow.steps.map((s) => [s.op, s.pk, s.set])).toEqual([['update', { id: 11 }, { id: 1, v: 'v1' }]]);
    expect(byNow.steps.map((s) => s.sql)).toEqual(byThen.steps.map((s) => s.sql));
    expect(byNow.conflicts).toEqual([]);
    await runWithAuditContext({ actor: ActorRef.admin('a') }, () => tl.revert.apply(byNow));
    expect(await snapshot(db(), t, 'id')).toEqual(before);
  });
});
