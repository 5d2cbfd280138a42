import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

// The later changes of a transaction's single-change rows are found set-wise (set-steps.ts: every
// key at once, then matched per row): each row gets its own first later change, a change that
// moved a row's key away is key_changed, and rows of another key or an earlier change are not hit.
describeEachDb('revert: later changes of a bulk statement, found set-wise', (db) => {
  it('reports the first later change of each row, changed_since or key_changed', async () => {
    const t = uniqueName('laterset');
    await db().exec(`create table ${t} (id int primary key, n int)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const as = (id: string, sql: string) =>
      runWithAuditContext({ actor: ActorRef.user(id) }, () => tl.transaction((tx) => tx.query(sql)));
    await as('setup', `insert into ${t} select g, 0 from generate_series(1, 6) g`);
    // Row 5 is changed before the reverted statement only: not a later change.
    await as('early', `update ${t} set n = 5 where id = 5`);
    const { auditTransactionId: reverted } = await as('bulk', `update ${t} set n = n + 1 where id <= 5`);
    const { auditTransactionId: first } = await as('b', `update ${t} set n = 10 where id = 1`);
    await as('c', `update ${t} set n = 11 where id = 1`); // a second later change of row 1
    const { auditTransactionId: moved } = await as('d', `update ${t} set id = 20 where id = 2`);
    await as('e', `update ${t} set n = 12 where id = 6`); // a row the revert does not touch
    await as('f', `insert into ${t} values (2, 7)`); // key 2 again, after the move
    const ids = await db().sql<{ id: string; tx: string }>(
      `select id::text as id, transaction_id::text as tx from threadline.audit_changes
        where transaction_id = any($1::bigint[]) order by id`,
      [[first, moved]],
    );
    const plan = await tl.revert.plan({ transactionId: reverted! });
    expect(plan.steps).toHaveLength(5);
    const got = plan.conflicts
      .map((c) => [c.kind, c.pk, c.changeId, c.actor])
      .sort((x, y) => JSON.stringify(x[1]).localeCompare(JSON.stringify(y[1])));
    expect(got).toEqual([
      ['changed_since', { id: 1 }, ids[0]!.id, { type: 'user', id: 'b' }],
      ['key_changed', { id: 2 }, ids[1]!.id, { type: 'user', id: 'd' }],
    ]);
    expect(plan.summary.conflicts).toMatchObject({ changed_since: 1, key_changed: 1 });
  });
});
