import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, isThreadlineError, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { snapshot } from './revert-helpers.js';

/**
 * Under a DEFERRABLE key one statement can move a row onto a key another row still holds
 * (uniqueness is checked at the end of the statement). Those are two rows, never one row moving
 * twice: the plan must not net them into one step (which would overwrite one row with another's
 * values and lose the other), and refuses the moves as a key cycle, as for any swap.
 */
describeEachDb('revert: keys shifted or swapped by one statement under a deferrable key', (db) => {
  for (const [name, sql, rows] of [
    ['shift', (t: string) => `update ${t} set id = id + 1 where id >= 3`, 5],
    ['swap', (t: string) => `update ${t} set id = 3 - id`, 2],
  ] as const) {
    it(`${name}: one step per row, refused as key_cycle (REVERT_REFUSED), nothing changed`, async () => {
      const t = uniqueName(name);
      await db().exec(
        `create table ${t} (id int primary key deferrable, v text);
         insert into ${t} select g, 'v' || g from generate_series(1, ${rows}) g`,
      );
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      const bad = await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
        tl.transaction((tx) => tx.query(sql(t))),
      );
      const after = await snapshot(db(), t, 'id');
      const plan = await tl.revert.plan({ transactionId: bad.auditTransactionId! });
      // One step per moved row, each putting its own values back.
      const moved = name === 'shift' ? 3 : 2;
      expect(plan.steps).toHaveLength(moved);
      for (const step of plan.steps) {
        const back = step.set as { id: number };
        const now = step.pk as { id: number };
        expect(now.id - back.id).toBe(name === 'shift' ? 1 : now.id - (3 - now.id));
      }
      expect(plan.conflicts.length).toBeGreaterThan(0);
      expect(plan.conflicts.every((c) => c.kind === 'key_cycle')).toBe(true);
      const error = await runWithAuditContext({ actor: ActorRef.admin('a') }, () =>
        tl.revert.apply(plan),
      ).catch((e: unknown) => e);
      expect(isThreadlineError(error, 'REVERT_REFUSED')).toBe(true);
      expect(await snapshot(db(), t, 'id')).toEqual(after);
    });
  }
});
