import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

// A row's changes are ordered by id: a statement that waited for the row lock is captured with the
// time it started, before the change it waited for. The later-change searches used to look back
// only one day before the reverted change; however long the wait, the later change is found.
describeEachDb('revert: a later change captured long before the reverted one', (db) => {
  it('is a conflict of a transaction revert (single and collapsed rows) and part of a row revert', async () => {
    const t = uniqueName('waited');
    await db().exec(`create table ${t} (id int primary key, n int)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const as = (id: string, sql: string) =>
      runWithAuditContext({ actor: ActorRef.user(id) }, () => tl.transaction((tx) => tx.query(sql)));
    await as('setup', `insert into ${t} values (1, 0), (2, 0)`);
    const { auditTransactionId: reverted } = await runWithAuditContext({ actor: ActorRef.user('a') }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${t} set n = 1 where id = 1`);
        await tx.query(`update ${t} set n = 1 where id = 2`);
        await tx.query(`update ${t} set n = 2 where id = 2`);
      }),
    );
    const { auditTransactionId: waited } = await as('b', `update ${t} set n = 9`);
    // The later transaction started three days before the reverted one (it waited for the lock).
    await db().exec(
      `update threadline.audit_transactions set occurred_at = occurred_at - interval '3 days' where id = ${waited};
       update threadline.audit_changes set captured_at = captured_at - interval '3 days' where transaction_id = ${waited}`,
    );
    const later = await db().sql<{ id: string; k: number }>(
      `select id::text as id, (table_pk ->> 'id')::int as k from threadline.audit_changes where transaction_id = $1 order by k`,
      [waited],
    );
    const plan = await tl.revert.plan({ transactionId: reverted! });
    expect(
      plan.conflicts
        .map((c) => [c.kind, c.pk, c.changeId])
        .sort((x, y) => String(x[1]).localeCompare(String(y[1]))),
    ).toEqual(
      expect.arrayContaining([
        ['changed_since', { id: 1 }, later[0]!.id],
        ['changed_since', { id: 2 }, later[1]!.id],
      ]),
    );
    expect(plan.conflicts).toHaveLength(2);

    // Back to the insert: the waited change is one of the changes reverted, not left out.
    const [{ id: inserted }] = (await db().sql<{ id: string }>(
      `select min(id)::text as id from threadline.audit_changes where table_pk = '{"id": 1}'`,
    )) as [{ id: string }];
    const row = await tl.revert.plan({ table: t, pk: 1, to: inserted });
    expect([...row.summary.transactions].sort()).toEqual([reverted, waited].map(String).sort());
    expect(row.summary.changes).toBe(2);
    expect(row.conflicts).toEqual([]);
  });
});
