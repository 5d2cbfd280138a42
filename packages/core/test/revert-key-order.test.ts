import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, runWithAuditContext } from '../src/index.js';
import { revertOfStatements, snapshot } from './revert-helpers.js';

/**
 * A step that takes a key another step of the same table frees must run after it, whatever their
 * ops: apply's phases (inserts, updates, deletes) alone made these plans fail on every apply.
 */
describeEachDb('revert: steps that free a key run before the step that takes it', (db) => {
  for (const [name, statements] of [
    [
      'move a row away, insert another at its key',
      ['update $T set id = 9 where id = 1', `insert into $T values (1, 'again')`],
    ],
    [
      'delete a row, move another into its key',
      ['delete from $T where id = 1', 'update $T set id = 1 where id = 2'],
    ],
    [
      'delete, move into it, insert at the moved key',
      [
        'delete from $T where id = 1',
        'update $T set id = 1 where id = 2',
        `insert into $T values (2, 'new')`,
      ],
    ],
  ] as const) {
    it(`${name}: the plan applies and restores every row`, async () => {
      const { t, tl, before, plan } = await revertOfStatements(db(), '', 4, statements);
      expect(plan.conflicts).toEqual([]);
      const result = await runWithAuditContext({ actor: ActorRef.admin('a') }, () => tl.revert.apply(plan));
      expect(result.applied).toBe(plan.steps.length);
      expect(await snapshot(db(), t, 'id')).toEqual(before);
    });
  }
});
