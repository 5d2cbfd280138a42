import type { DbHandle } from '@threadline/test-utils';

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
