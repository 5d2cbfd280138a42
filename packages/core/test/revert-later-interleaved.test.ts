import { describeEachDb } from '@threadline/test-utils';
import pg from 'pg';
import { expect, it } from 'vitest';
import { installed, uniqueName } from './helpers.js';

/**
 * A later change whose audit id lies between the reverted transaction's changes is still a later
 * change: the set-wise search may not start after the reverted transaction's last change (a
 * deferrable key lets another transaction write the key without waiting, and a session can split
 * its own transaction into two audit transactions).
 */
describeEachDb('revert: later changes interleaved with the reverted transaction', (db) => {
  it('a change made between two statements of the reverted transaction, under another audit transaction of the same session', async () => {
    const t = uniqueName('split');
    await db().exec(
      `create table ${t} (id int primary key, v text); insert into ${t} select g, 'v' || g from generate_series(1, 3) g`,
    );
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(`begin;
      select set_config('threadline.actor_ref', '{"type":"user","id":"a"}', true);
      update ${t} set v = 'a1' where id = 1;
      select set_config('tl_test.hint', current_setting('threadline.transaction'), true);
      select set_config('threadline.transaction', '', true), set_config('threadline.actor_ref', '{"type":"user","id":"b"}', true);
      update ${t} set v = 'b1' where id = 1;
      select set_config('threadline.transaction', current_setting('tl_test.hint'), true),
             set_config('threadline.actor_ref', '{"type":"user","id":"a"}', true);
      update ${t} set v = 'a2' where id = 2;
      commit;`);
    const changes = await db().sql<{ id: string; tx: string; who: string }>(
      `select c.id::text, c.transaction_id::text as tx, t.actor_ref ->> 'id' as who
         from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_name = $1 order by c.id`,
      [t],
    );
    expect(changes.map((c) => c.who)).toEqual(['a', 'b', 'a']);
    const plan = await tl.revert.plan({ transactionId: changes[0]!.tx });
    expect(plan.conflicts.map((c) => [c.kind, c.pk, c.changeId])).toEqual([
      ['changed_since', { id: 1 }, changes[1]!.id],
    ]);
  });

  it('another transaction writes a key the reverted one deleted, under a deferred primary key (no wait)', async () => {
    if (db().kind !== 'postgres') return; // two connections at once
    const t = uniqueName('deferred');
    await db().exec(
      `create table ${t} (id int primary key deferrable initially deferred, v text);
       insert into ${t} select g, 'v' || g from generate_series(1, 3) g`,
    );
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const reverted = new pg.Client(db().server!.url);
    const other = new pg.Client(db().server!.url);
    await reverted.connect();
    await other.connect();
    try {
      await reverted.query(
        `begin; select set_config('threadline.actor_ref', '{"type":"user","id":"r"}', true); delete from ${t} where id = 1`,
      );
      await other.query(
        `begin; select set_config('threadline.actor_ref', '{"type":"user","id":"o"}', true);
         insert into ${t} values (1, 'other'); delete from ${t} where v = 'other'`,
      );
      // The other transaction's commit checks the deferred key; it waits for the reverted one.
      const otherCommit = other.query('commit');
      await new Promise((resolve) => setTimeout(resolve, 200));
      await reverted.query(`update ${t} set v = 'x' where id = 2; commit`);
      await otherCommit;
    } finally {
      await reverted.end();
      await other.end();
    }
    const changes = await db().sql<{ id: string; tx: string; who: string; op: string }>(
      `select c.id::text, c.transaction_id::text as tx, t.actor_ref ->> 'id' as who, c.op
         from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_name = $1 order by c.id`,
      [t],
    );
    expect(changes.map((c) => [c.who, c.op])).toEqual([
      ['r', 'delete'],
      ['o', 'insert'],
      ['o', 'delete'],
      ['r', 'update'],
    ]);
    const plan = await tl.revert.plan({ transactionId: changes[0]!.tx });
    expect(plan.conflicts.map((c) => [c.kind, c.pk, c.changeId])).toEqual([
      ['changed_since', { id: 1 }, changes[1]!.id],
    ]);
  });
});
