import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, runWithAuditContext } from '../src/index.js';
import { revertOfStatements, snapshot } from './revert-helpers.js';

/**
 * An AFTER ROW trigger that changes the row its statement just changed runs a statement inside that
 * statement: capture records the inner change first (its statement ends first), so the row's
 * changes in capture order no longer chain (the outer change's before image is not what the inner
 * change left). Netting them in that order restored nothing and reported nothing; the row is now
 * refused as order_unknown, by name, and apply changes nothing.
 */
describeEachDb('revert: changes of a row captured out of the order they happened', (db) => {
  const nested = (t: string) => `
    create function ${t}_touch() returns trigger language plpgsql as $f$
    begin
      if new.v not like '%touched' then update ${t} set v = new.v || ' touched' where id = new.id; end if;
      return null;
    end $f$;
    create trigger ${t}_touch after update on ${t} for each row execute function ${t}_touch();`;

  it('an AFTER ROW trigger updating its own row: refused as order_unknown, nothing applied', async () => {
    const { t, tl, before, after, plan } = await revertOfStatements(db(), '', 3, [
      `do $d$ begin execute replace($s$${nested('$T')}$s$, '$T', '$T'); end $d$`,
      `update $T set v = 'bad' where id = 2`,
    ]);
    expect(after).not.toEqual(before);
    expect(plan.conflicts.map((c) => [c.kind, c.pk])).toEqual([['order_unknown', { id: 2 }]]);
    expect(plan.conflicts[0]!.detail).toContain(`${t} {"id": 2}`);
    expect(plan.summary.conflicts.order_unknown).toBe(1);
    await expect(
      runWithAuditContext({ actor: ActorRef.admin('a') }, () => tl.revert.apply(plan, { force: true })),
    ).rejects.toMatchObject({ code: 'REVERT_REFUSED' });
    expect(await snapshot(db(), t, 'id')).toEqual(after);
  });

  it('changes that chain (the same row updated twice in order) still revert exactly', async () => {
    const { t, tl, before, plan } = await revertOfStatements(db(), '', 3, [
      `update $T set v = 'one' where id = 2`,
      `update $T set v = 'two' where id = 2`,
      `alter table $T add column w int default 7`,
      `update $T set v = 'three', w = 8 where id = 2`,
    ]);
    expect(plan.conflicts).toEqual([]);
    await runWithAuditContext({ actor: ActorRef.admin('a') }, () => tl.revert.apply(plan));
    await db().exec(`alter table ${t} drop column w`);
    expect(await snapshot(db(), t, 'id')).toEqual(before);
  });
});
