import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { installed, uniqueName } from './helpers.js';

/**
 * SERIALIZABLE transactions that touch disjoint rows never conflict; capture must not make them:
 * finding the audit transaction again reads only rows this transaction wrote, by their ctid (no
 * SIREAD lock on the index pages that concurrent transactions insert into).
 */
describeEachDb(
  'capture adds no serialization failures',
  (db) => {
    it('8 sessions each updating their own row twice per SERIALIZABLE transaction: no 40001', async () => {
      const tl = await installed(db());
      const t = uniqueName('ser');
      await db().exec(`create table ${t} (id int primary key, v int);
        insert into ${t} select g, 0 from generate_series(1, 100000) g; analyze ${t}`);
      await tl.installTriggers({ tables: [t] });
      const pool = db().server!.newPool(8);
      let failures = 0;
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          const c = await pool.connect();
          try {
            for (let i = 0; i < 60; i++) {
              try {
                await c.query('begin isolation level serializable');
                await c.query(`update ${t} set v = v + 1 where id = $1`, [w * 5000 + 1]);
                await c.query(`update ${t} set v = v + 1 where id = $1`, [w * 5000 + 1]);
                await c.query('commit');
              } catch (error) {
                await c.query('rollback');
                if ((error as { code?: string }).code !== '40001') throw error;
                failures += 1;
              }
            }
          } finally {
            c.release();
          }
        }),
      );
      await pool.end();
      expect(failures).toBe(0);
      // Each transaction's two updates still share one audit transaction.
      const [shape] = await db().sql<{ changes: number; transactions: number }>(
        `select count(*)::int as changes, count(distinct transaction_id)::int as transactions
           from threadline.audit_changes where table_name = $1 and op = 'update'`,
        [t],
      );
      expect(shape).toEqual({ changes: 960, transactions: 480 });
    });
  },
  ['postgres'],
);
