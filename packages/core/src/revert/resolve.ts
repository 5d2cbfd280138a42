import { formatTableName } from '../capture/identifiers.js';
import { ThreadlineError } from '../errors.js';
import type { Run } from './load.js';

/** A table's name now and the name its reverted changes were recorded under. */
export interface ResolvedTable {
  schema: string;
  name: string;
  /** The name the changes were recorded under (set-steps.ts reads the transactions' changes by it). */
  recorded: { schema: string; name: string };
  /** The table id the changes carry (null: recorded before table ids). */
  id: number | null;
}

/**
 * The relation that a table's changes in the reverted transactions belong to now: found by the
 * table id the changes carry (the registry row follows the relation through renames, schema
 * moves and name swaps), not by the name they were recorded under, which may belong to another
 * table since. Changes recorded before table ids (not keyed yet) are resolved by name, as is a
 * table no longer captured whose name no captured table has taken since (loadTableMeta then says
 * whether it still exists). A table no longer captured whose name another captured table holds
 * now is refused: writing to that table would revert the wrong rows.
 */
export async function resolveTable(
  run: Run,
  q: string,
  schema: string,
  name: string,
  transactions: string[],
): Promise<ResolvedTable> {
  const recorded = { schema, name };
  const [row] = await run<{ id: number | null; s: string | null; n: string | null; taken: boolean }>(
    `SELECT r.id, ns.nspname::text AS s, cl.relname::text AS n,
            EXISTS (SELECT 1 FROM ${q}.captured_tables h WHERE h.table_schema = $1 AND h.table_name = $2
                       AND h.table_id IS DISTINCT FROM r.id) AS taken
       FROM (SELECT (SELECT c.table_id FROM ${q}.audit_changes c
                      WHERE c.transaction_id = ANY($3::bigint[]) AND c.table_schema = $1 AND c.table_name = $2
                        AND c.table_id IS NOT NULL LIMIT 1) AS id) r
       LEFT JOIN ${q}.captured_tables ct ON ct.table_id = r.id
       LEFT JOIN pg_catalog.pg_class cl ON cl.oid = ct.relid
       LEFT JOIN pg_catalog.pg_namespace ns ON ns.oid = cl.relnamespace`,
    [schema, name, transactions],
  );
  if (!row || row.id === null) return { schema, name, recorded, id: null };
  if (row.s !== null && row.n !== null) return { schema: row.s, name: row.n, recorded, id: row.id };
  if (!row.taken) return { schema, name, recorded, id: row.id };
  const label = formatTableName(recorded);
  throw new ThreadlineError(
    'NOT_FOUND',
    `revert.plan: the table whose changes were recorded as ${label} (table id ${row.id}) is no longer captured (dropped, or its capture removed), and ${label} is now another table, so its changes cannot be reverted; revert them by hand`,
  );
}
