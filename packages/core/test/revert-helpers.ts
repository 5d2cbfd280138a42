import type { DbHandle } from '@threadline/test-utils';
import { ActorRef, type RevertPlan, runWithAuditContext, type Threadline } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

/** Every row of a table as PostgreSQL renders it, in key order: the ground truth a revert must restore. */
export async function snapshot(db: DbHandle, table: string, orderBy: string): Promise<string[]> {
  const rows = await db.sql<{ r: string }>(
    `select to_jsonb(t)::text as r from ${table} t order by ${orderBy}`,
  );
  return rows.map((r) => r.r);
}

export async function auditTransactionCount(db: DbHandle): Promise<number> {
  const rows = await db.sql<{ n: number }>('select count(*)::int as n from threadline.audit_transactions');
  return Number(rows[0]!.n);
}

/**
 * A captured table `(id int primary key <key>, v text)` holding rows 1..`rows` ('v1', …), and one
 * attributed transaction that runs `statements` on it (`$T` stands for the table): the table, its
 * rows before and after, and the plan of that transaction's revert.
 */
export async function revertOfStatements(
  db: DbHandle,
  key: string,
  rows: number,
  statements: readonly string[],
): Promise<{ t: string; tl: Threadline; before: string[]; after: string[]; plan: RevertPlan }> {
  const t = uniqueName('revert');
  await db.exec(
    `create table ${t} (id int primary key ${key}, v text);
     insert into ${t} select g, 'v' || g from generate_series(1, ${rows}) g`,
  );
  const tl = await installed(db);
  await tl.installTriggers({ tables: [t] });
  const before = await snapshot(db, t, 'id');
  const bad = await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
    tl.transaction(async (tx) => {
      for (const sql of statements) await tx.query(sql.replaceAll('$T', t));
    }),
  );
  const after = await snapshot(db, t, 'id');
  const plan = await tl.revert.plan({ transactionId: bad.auditTransactionId! });
  return { t, tl, before, after, plan };
}
