import { describeEachDb } from '@threadline/test-utils';
import type pg from 'pg';
import { expect, it } from 'vitest';
import { ActorRef, createThreadline, isThreadlineError, runWithAuditContext } from '../src/index.js';
import { uniqueName } from './helpers.js';

const REPEATABLE_READ = { options: '-c default_transaction_isolation=repeatable\\ read' };

/** Wait until `n` sessions wait for an advisory lock (a state, polled; no time limit but the test's). */
async function waiters(pool: pg.Pool, n: number): Promise<void> {
  for (;;) {
    const { rows } = await pool.query<{ n: number }>(
      `select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted
         and database = (select oid from pg_database where datname = current_database())`,
    );
    if (rows[0]!.n >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describeEachDb(
  'integrity: chain appends under a repeatable-read default isolation',
  (db) => {
    it('two seals that waited for the chain lock append one after the other (no fork)', async () => {
      const schema = uniqueName('sealrr');
      const table = uniqueName('rr');
      await db().exec(`create table ${table} (id int primary key)`);
      const admin = db().server!.newPool(2);
      try {
        const tl = createThreadline({ db: admin, schema });
        await tl.install();
        await tl.installTriggers({ tables: [table] });
        await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
          tl.transaction((tx) => tx.query(`insert into ${table} values (1)`)),
        );
        const sealers = [0, 1].map(() =>
          createThreadline({ db: db().server!.newPool(1, REPEATABLE_READ), schema }),
        );
        // Both seals reach the chain lock while another session holds it.
        const holder = await admin.connect();
        await holder.query('begin');
        await holder.query(`select pg_advisory_xact_lock(hashtext('threadline.integrity:' || $1))`, [schema]);
        const seals = sealers.map((s) => s.integrity.seal());
        await waiters(admin, 2);
        await holder.query('commit');
        holder.release();
        const results = await Promise.all(seals);
        // Each relation is sealed in its own short transaction, so the two seals may split the
        // work ([0, 2] or [1, 1]); a fork would seal a row twice (3 or 4 in all, 3 or 4 links).
        expect(results.reduce((n, r) => n + r.sealedRows, 0)).toBe(2);
        const links = await db().sql<{ from: string; to: string }>(
          `select range_from::text as from, range_to::text as to from "${schema}".integrity_seals order by id`,
        );
        expect(links.length).toBe(2);
        const result = await tl.integrity.verify();
        expect(result.findings).toEqual([]);
        expect(result).toMatchObject({ ok: true, rowsChecked: 2 });
      } finally {
        await admin.end();
      }
    });

    it('two purge runs that waited for the retention lock: the second sees the first running', async () => {
      const schema = uniqueName('purgerr');
      const retention = { enabled: true, keepDays: 30, sleepMs: 0 };
      const admin = db().server!.newPool(2);
      try {
        const tl = createThreadline({ db: admin, schema, retention });
        await tl.install();
        const purgers = [0, 1].map(() =>
          createThreadline({ db: db().server!.newPool(2, REPEATABLE_READ), schema, retention }),
        );
        const holder = await admin.connect();
        await holder.query('begin');
        await holder.query(`select pg_advisory_xact_lock(hashtext('threadline.retention:' || $1))`, [schema]);
        const runs = purgers.map((p) => p.retention.purge().catch((e: unknown) => e));
        await waiters(admin, 2);
        await holder.query('commit');
        holder.release();
        const outcomes = await Promise.all(runs);
        expect(outcomes.filter((o) => isThreadlineError(o, 'RETENTION_RUNNING')).length).toBe(1);
        const links = await db().sql(`select id from "${schema}".integrity_seals where kind = 'purge'`);
        expect(links.length).toBe(1);
      } finally {
        await admin.end();
      }
    });
  },
  ['postgres'],
);
