import { exportColumnsSql, exportJoinsSql } from '../export/record-sql.js';

/**
 * The change rows a purge batch is about to delete, oldest first in primary-key order (the order
 * deleteChanges uses), each with its key and its record in the export file format: the export's
 * own columns over `c`, its transaction `t` and action `a`, written by PostgreSQL (row_to_json).
 * `$1` is the cutoff, `$2` the batch size. `source` is the table the rows come from (a partition,
 * for a partition drop).
 */
export function archiveSelectSql(q: string, source = `${q}.audit_changes`): string {
  const columns = exportColumnsSql({ formulaGuard: false, json: 'json', actionName: 'a.name' });
  return `SELECT c.captured_at::text AS key_at, c.id::text AS key_id,
      (SELECT row_to_json(r)::text FROM (SELECT ${columns}) r) AS record
    FROM ${source} c ${exportJoinsSql(q)}
    WHERE c.captured_at < $1
    ORDER BY c.captured_at, c.id LIMIT $2`;
}

/** Delete exactly the archived rows (by primary key); same result shape as purgeSql.deleteChanges. */
export const deleteArchivedSql = (q: string) => `WITH gone AS (
      DELETE FROM ${q}.audit_changes c USING unnest($1::timestamptz[], $2::bigint[]) AS d(at, id)
       WHERE c.captured_at = d.at AND c.id = d.id
      RETURNING c.transaction_id, c.captured_at
    )
    SELECT count(*)::int AS n, coalesce(array_agg(DISTINCT transaction_id), '{}')::bigint[] AS txs,
      ${q}.activity_forget(min(captured_at), max(captured_at))::text AS forgot FROM gone`;
