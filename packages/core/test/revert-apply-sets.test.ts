import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, isThreadlineError, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { snapshot } from './revert-helpers.js';

const admin = ActorRef.admin('ops-1');

// apply re-checks a group's rows with one recordset of keys joined to the table (its WITH
// ORDINALITY column is named "ordinality", so a table with a column of that name takes the
// per-key form), and writes an update that keeps the key as one recordset of old values with keys.
// Columns named `t` and `l` (the aliases of the table row in the two forms) must not capture the
// whole-row reference: `to_jsonb(t)` read a column `t` ("column reference is ambiguous").
describeEachDb('revert: apply re-checks and writes bulk groups set-wise', (db) => {
  for (const col of ['ordinality', 'Ord "x"', 't']) {
    it(`reports exactly the rows that no longer match, then restores every row (a column named ${col})`, async () => {
      const t = uniqueName('bulk');
      const c = `"${col.replace(/"/g, '""')}"`;
      await db().exec(`create table ${t} (k1 text, k2 int, ${c} int, v text, l int, primary key (k1, k2));
        insert into ${t} select 'a, "' || (g % 2), g, g * 10, 'v' || g from generate_series(1, 20) g`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      const before = await snapshot(db(), t, 'k2');
      const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('script') }, () =>
        tl.transaction(async (tx) => {
          await tx.query(`update ${t} set v = 'bad', ${c} = -${c} where k2 <= 8`);
          await tx.query(`update ${t} set k1 = 'moved' where k2 = 9`);
          await tx.query(`delete from ${t} where k2 between 10 and 14`);
          await tx.query(`insert into ${t} select 'n', g, g, 'new' from generate_series(100, 103) g`);
        }),
      );
      const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
      expect(plan.conflicts).toEqual([]);
      expect(plan.steps).toHaveLength(18);
      // Between plan and apply: one updated row changes again, one is deleted, one deleted row
      // comes back, one inserted row goes away.
      const k = (k2: number) => `'a, "${k2 % 2}'`;
      await db().exec(`update ${t} set v = 'again' where k2 = 3;
        delete from ${t} where k2 = 5;
        insert into ${t} values (${k(12)}, 12, 0, 'back');
        delete from ${t} where k2 = 101`);
      const error = await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan)).catch(
        (e: unknown) => e,
      );
      expect(isThreadlineError(error, 'REVERT_CONFLICT')).toBe(true);
      const message = (error as Error).message;
      expect(message).toMatch(/^revert\.apply: 4 row\(s\) no longer match the plan/);
      for (const problem of [
        `${t} {"k1": "a, \\"1", "k2": 3} changed since the plan was made`,
        `${t} {"k1": "a, \\"1", "k2": 5} no longer exists`,
        `${t} {"k1": "a, \\"0", "k2": 12} exists again, so it cannot be inserted back`,
        `${t} {"k1": "n", "k2": 101} no longer exists`,
      ])
        expect(message).toContain(problem);
      // Put the rows back as the plan expects them: the same plan applies and restores every row.
      await db().exec(`update ${t} set v = 'bad' where k2 = 3;
        insert into ${t} values (${k(5)}, 5, -50, 'bad');
        delete from ${t} where k2 = 12;
        insert into ${t} values ('n', 101, 101, 'new')`);
      const result = await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan));
      expect(result.applied).toBe(18);
      expect(await snapshot(db(), t, 'k2')).toEqual(before);
    });
  }
});
