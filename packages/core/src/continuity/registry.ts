import type { TableName } from '../capture/identifiers.js';
import type { OperationsContext } from '../context/operations-context.js';
import { toThreadlineError } from '../db/db-errors.js';

export interface CapturedTable {
  schema: string;
  name: string;
  keyColumns: string[];
  options: { exclude?: string[]; mask?: string[]; maskPlaceholder?: string };
  capturedSince: string;
}

/** Registry rows (all, or the given tables), from Threadline's captured_tables. */
export async function capturedTables(
  ctx: OperationsContext,
  only: readonly TableName[] | null,
  what: string,
): Promise<CapturedTable[]> {
  try {
    const { rows } = await ctx.client.query<CapturedTable>(
      `SELECT table_schema AS schema, table_name AS name, key_columns AS "keyColumns", options,
              to_char(captured_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "capturedSince"
         FROM ${ctx.q}.captured_tables
        WHERE $1::jsonb IS NULL OR jsonb_build_array(table_schema, table_name) IN (SELECT jsonb_array_elements($1::jsonb))
        ORDER BY table_schema, table_name`,
      [only === null ? null : JSON.stringify(only.map((t) => [t.schema, t.name]))],
    );
    return rows;
  } catch (error) {
    throw toThreadlineError(error, what);
  }
}
