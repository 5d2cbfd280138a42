import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

describeEachDb('asOf after statements that move rows between keys', (db) => {
  it('finds the row that moved onto a key in the same statement another moved away from it (shift, swap)', async () => {
    const pos = uniqueName('pos');
    const sw = uniqueName('swap');
    await db().exec(`
      create table ${pos} (list int, p int, v text, constraint ${pos}_pk primary key (list, p) deferrable initially deferred);
      insert into ${pos} select 1, g, 'item' || g from generate_series(1, 5) g;
      create table ${sw} (id int, v text, constraint ${sw}_pk primary key (id) deferrable initially deferred);
      insert into ${sw} values (1, 'one'), (2, 'two');`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [pos, sw] });
    await runWithAuditContext({ actor: ActorRef.user('mover') }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${pos} set p = p + 1 where p >= 3`);
      }),
    );
    await runWithAuditContext({ actor: ActorRef.user('mover') }, () =>
      tl.transaction((tx) => tx.query(`update ${sw} set id = 3 - id`)),
    );
    const now = new Date(Date.now() + 60_000);
    const truth = await db().sql<{ p: number; v: string }>(`select p, v from ${pos} order by p`);
    for (const { p, v } of truth) {
      const r = await tl.asOf(pos, { list: 1, p }, now);
      if (p === 1 || p === 2) {
        // Never captured: before the horizon.
        expect(r.status).toBe('before_horizon');
        continue;
      }
      expect(r.status, `p=${p}`).toBe('found');
      if (r.status === 'found') expect(r.row.v).toBe(v);
    }
    const gone = await tl.asOf(pos, { list: 1, p: 3 }, now);
    expect(gone.status).toBe('deleted');
    for (const [id, v] of [
      [1, 'two'],
      [2, 'one'],
    ] as const) {
      const r = await tl.asOf(sw, id, now);
      expect(r.status, `id=${id}`).toBe('found');
      if (r.status === 'found') expect(r.row).toEqual({ id, v });
    }
  });
});
