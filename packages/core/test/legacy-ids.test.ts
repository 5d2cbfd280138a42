import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

/**
 * Ids an earlier release stored although today's id rule refuses them (an NBSP or a Hangul filler
 * inside, a variation selector, a braille blank) can still be looked up: the query filters read an
 * id by the looser lookup rule (lookupId), not by the rule for binding one.
 */
describeEachDb('ids stored before the id rule tightened can still be looked up', (db) => {
  const LEGACY = ['a\u00a0b', 'a\u3164b', 'a\u2800b', 'a\u034fb', '\u2764\ufe0f'];

  it('actorHistory, timeline and auditTransactions find them', async () => {
    const t = uniqueName('legacy');
    await db().exec(`create table ${t} (id int primary key, v text)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    for (const [i, id] of LEGACY.entries()) {
      await db().exec(`begin;
        select set_config('threadline.actor_ref', '{"type":"user","id":"placeholder"}', true);
        insert into ${t} values (${i}, 'x');
        commit;`);
      // What the earlier release stored for this id (written as the owner: capture refuses it now).
      await db().sql(
        `update threadline.audit_transactions t set actor_ref = jsonb_build_object('type', 'user', 'id', $1::text),
                correlation_id = $1, request_id = $1, job_id = $1
          where t.id = (select c.transaction_id from threadline.audit_changes c where c.table_name = $2 and c.table_pk = jsonb_build_object('id', $3::int))`,
        [id, t, i],
      );
    }
    for (const [i, id] of LEGACY.entries()) {
      expect(() => ActorRef.user(id), id).toThrow(/id must be a non-empty string/);
      const pk = (page: { entries: { tablePk: unknown }[] }) => page.entries.map((e) => e.tablePk);
      expect(pk(await tl.actorHistory(`user:${id}`)), id).toEqual([{ id: i }]);
      expect(pk(await tl.actorHistory({ type: 'user', id } as never)), id).toEqual([{ id: i }]);
      expect(pk(await tl.timeline({ correlationId: id })), id).toEqual([{ id: i }]);
      expect(pk(await tl.timeline({ requestId: ` ${id} ` })), id).toEqual([{ id: i }]);
      expect((await tl.auditTransactions({ jobId: id })).entries, id).toHaveLength(1);
    }
    // A revert of such a correlation bundle plans and applies (its causation id is then the
    // bundle's first transaction: the id rule will not bind the old id again).
    const plan = await tl.revert.plan({ correlationId: LEGACY[0]! });
    expect(plan.steps).toHaveLength(1);
    await tl.revert.apply(JSON.parse(JSON.stringify(plan)), { actor: ActorRef.user('reverter') });
    expect(await db().sql(`select id from ${t} where id = 0`)).toEqual([]);
    // Only U+0020 is trimmed from a "type:id" filter: a trailing tab is a control character.
    await expect(tl.actorHistory('user:placeholder\t')).rejects.toThrow(/^actorHistory: actor /);
    // Control characters were never stored: still refused, naming the lookup rule.
    await expect(tl.timeline({ correlationId: 'a\u0007b' })).rejects.toThrow(
      /correlationId must be a non-empty string of at most 256 bytes .* with no control character/,
    );
  });
});
