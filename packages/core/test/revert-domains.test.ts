import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, isThreadlineError, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { snapshot } from './revert-helpers.js';

const admin = ActorRef.admin('ops-1');

// The statements read keys and old values from the stored jsonb. Read as the table's whole row
// type (jsonb_populate_record(NULL::table, ...)), every column the object lacks was read as NULL,
// and a domain that refuses NULL (NOT NULL, or a CHECK that fails on NULL) made every apply on the
// table fail ("domain ... does not allow null values"). Both re-check forms: a table with a column
// named "ordinality" takes the per-key form.
describeEachDb('revert: tables with domains that refuse NULL', (db) => {
  async function setup(extra: string, exclude: string[] = []) {
    const t = uniqueName('dom');
    await db().exec(`create domain ${t}_nn as text not null;
      create domain ${t}_pos as int check (value is not null and value > 0);
      create table ${t} (id int primary key, n ${t}_nn, p ${t}_pos, v text, "${extra}" int,
        h ${t}_nn default 'hidden', g ${t}_nn generated always as (n || '!') stored);
      insert into ${t} (id, n, p, v, "${extra}") select g, 'n' || g, g, 'v' || g, g from generate_series(1, 10) g`);
    const tl = await installed(db(), { [t]: { exclude } });
    await tl.installTriggers({ tables: [t] });
    return { t, tl };
  }

  for (const extra of ['x', 'ordinality']) {
    it(`reverts updates, key changes, deletes, inserts and rows changed twice (a column named ${extra})`, async () => {
      const { t, tl } = await setup(extra);
      const before = await snapshot(db(), t, 'id');
      const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('script') }, () =>
        tl.transaction(async (tx) => {
          await tx.query(`update ${t} set v = 'bad' where id <= 3`);
          await tx.query(`update ${t} set id = 104 where id = 4`);
          await tx.query(`delete from ${t} where id in (5, 6)`);
          await tx.query(`insert into ${t} (id, n, p, v) values (200, 'new', 2, 'new')`);
          await tx.query(`update ${t} set v = 'once' where id = 7`);
          await tx.query(`update ${t} set n = 'twice', p = 70 where id = 7`);
          await tx.query(`update ${t} set n = 'other', p = 80 where id = 8`);
        }),
      );
      const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
      expect(plan.conflicts).toEqual([]);
      const result = await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan));
      expect(result.applied).toBe(plan.steps.length);
      expect(await snapshot(db(), t, 'id')).toEqual(before);
    });

    it(`re-checks a row against a column of such a domain added after the plan (a column named ${extra})`, async () => {
      const { t, tl } = await setup(extra, ['h']);
      const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('script') }, () =>
        tl.transaction(async (tx) => {
          await tx.query(`update ${t} set v = 'bad' where id <= 3`);
        }),
      );
      const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
      // The expected rows lack the new column: compared column by column (row 3 changed since the
      // plan), it is not read as NULL, and row 3 is reported.
      await db().exec(
        `alter table ${t} add column z ${t}_nn default 'z'; update ${t} set v = 'again' where id = 3`,
      );
      const error = await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan)).catch(
        (e: unknown) => e,
      );
      expect(isThreadlineError(error, 'REVERT_CONFLICT')).toBe(true);
      expect((error as Error).message).toContain(`${t} {"id": 3} changed since the plan was made`);
      await db().exec(`update ${t} set v = 'bad' where id = 3`);
      const before = await snapshot(db(), t, 'id');
      const result = await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan));
      expect(result.applied).toBe(3);
      expect(await snapshot(db(), t, 'id')).toEqual(
        before.map((r, i) => (i < 3 ? r.replace('"v": "bad"', `"v": "v${i + 1}"`) : r)),
      );
    });
  }
});
