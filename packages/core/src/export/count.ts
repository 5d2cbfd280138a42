import { toThreadlineError } from '../db/db-errors.js';
import { Params } from '../query/sql-parts.js';
import { timelineFilterSql } from '../query/timeline-sql.js';
import type { ParsedTimelineFilters } from '../query/validate.js';

type Run = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/** How many changes match, counting at most `cap + 1` (so the answer stays cheap on huge tables). */
export async function countMatching(
  run: Run,
  q: string,
  filters: ParsedTimelineFilters,
  cap: number | null,
): Promise<{ count: number; capped: boolean }> {
  const p = new Params();
  const { where, transactions } = timelineFilterSql(q, p, filters, null);
  const limit = cap === null ? '' : `LIMIT ${p.add(cap + 1)}`;
  const sql = transactions
    ? `SELECT count(*)::text AS n FROM (SELECT 1 FROM (${transactions}) x CROSS JOIN LATERAL
        (SELECT 1 FROM ${q}.audit_changes c WHERE ${['c.transaction_id = x.id', ...where].join(' AND ')}) s ${limit}) m`
    : `SELECT count(*)::text AS n FROM (SELECT 1 FROM ${q}.audit_changes c ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ${limit}) m`;
  let rows: Record<string, unknown>[];
  try {
    rows = await run(sql, p.values);
  } catch (error) {
    throw toThreadlineError(error, 'export.count');
  }
  const n = Number(rows[0]?.n ?? 0);
  return cap !== null && n > cap ? { count: cap, capped: true } : { count: n, capped: false };
}
