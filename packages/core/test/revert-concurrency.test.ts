import { describeEachDb } from '@threadline/test-utils';
import pg from 'pg';
import { expect, it } from 'vitest';
import { ActorRef, createThreadline, isThreadlineError, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { snapshot } from './revert-helpers.js';

describeEachDb('revert: concurrent applies', (db) => {
  it('two applies of one plan at once: exactly one writes, the other fails with REVERT_CONFLICT', async () => {
    const t = uniqueName('race');
    await db().exec(
      `create table ${t} (id int primary key, v int); insert into ${t} select g, g from generate_series(1, 50) g`,
    );
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const before = await snapshot(db(), t, 'id');
    const bad = await runWithAuditContext({ actor: ActorRef.user(1) }, () =>
      tl.transaction((tx) => tx.query(`update ${t} set v = -v`)),
    );
    const plan = await tl.revert.plan({ transactionId: bad.auditTransactionId! });
    const outcomes = await Promise.allSettled(
      ['a', 'b'].map((who) =>
        runWithAuditContext({ actor: ActorRef.admin(who) }, () => tl.revert.apply(plan)),
      ),
    );
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    const failed = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(isThreadlineError(failed.reason, 'REVERT_CONFLICT')).toBe(true);
    expect(await snapshot(db(), t, 'id')).toEqual(before);
    const reverts = await db().sql<{ n: number }>(
      `select count(*)::int as n from threadline.audit_transactions where source = 'threadline:revert' and causation_id = $1`,
      [bad.auditTransactionId],
    );
    expect(reverts[0]!.n).toBe(1);
  });

  it('30 reverts at once on a pool of 2, each attributed to its own operator and transaction', async () => {
    const t = uniqueName('many');
    await db().exec(
      `create table ${t} (id int primary key, v text); insert into ${t} select g, 'v' || g from generate_series(1, 30) g`,
    );
    const pool =
      db().kind === 'postgres' ? new pg.Pool({ connectionString: db().server!.url, max: 2 }) : null;
    const tl = pool ? createThreadline({ db: pool }) : await installed(db());
    try {
      await tl.install();
      await tl.installTriggers({ tables: [t] });
      const before = await snapshot(db(), t, 'id');
      const bad: string[] = [];
      for (let i = 1; i <= 30; i++) {
        const r = await runWithAuditContext({ actor: ActorRef.user(i) }, () =>
          tl.transaction((tx) => tx.query(`update ${t} set v = 'bad' where id = $1`, [i])),
        );
        bad.push(r.auditTransactionId!);
      }
      const results = await Promise.all(
        bad.map((id, i) =>
          runWithAuditContext({ actor: ActorRef.admin(`op${i}`), correlationId: `c${i}` }, async () =>
            tl.revert.apply(await tl.revert.plan({ transactionId: id })),
          ),
        ),
      );
      expect(await snapshot(db(), t, 'id')).toEqual(before);
      const rows = await db().sql<{
        id: string;
        actor_ref: { id: string };
        causation_id: string;
        correlation_id: string;
      }>(
        `select id::text, actor_ref, causation_id, correlation_id from threadline.audit_transactions where id = any($1::bigint[])`,
        [results.map((r) => r.auditTransactionId)],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      results.forEach((r, i) => {
        expect(byId.get(r.auditTransactionId!)).toEqual({
          id: r.auditTransactionId,
          actor_ref: { type: 'admin', id: `op${i}` },
          causation_id: bad[i],
          correlation_id: `c${i}`,
        });
      });
    } finally {
      await pool?.end();
    }
  }, 120_000);
});
