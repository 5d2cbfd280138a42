import { formatTableName, qualifiedTable, type TableName } from '../capture/identifiers.js';
import { tableKey } from '../capture/table-options.js';
import type { OperationsContext } from '../context/operations-context.js';
import { toThreadlineError } from '../db/db-errors.js';
import { shellWord } from '../health/fixes.js';
import { keyCondition, scopeRows, tableScope } from '../query/table-scope.js';
import { keyObjectSql, UTC_SQL } from './key-sql.js';
import { type CapturedTable, capturedTables } from './registry.js';
import type { ContinuityEntry } from './types.js';

/** One table's continuity: how many of its current rows have no audit row at all. */
export async function continuityOf(
  ctx: OperationsContext,
  table: TableName,
  reg: CapturedTable | undefined,
  what: string,
): Promise<ContinuityEntry> {
  const label = formatTableName(table);
  if (!reg)
    return {
      table: label,
      status: 'not_captured',
      capturedSince: null,
      rowsNow: null,
      rowsWithoutHistory: null,
      lastBaselineAt: null,
      hint: `capture it first: threadline gen-triggers --tables ${shellWord(label)} --apply`,
    };
  const keyless = reg.keyColumns.length === 0;
  const scope = tableScope(ctx.q, '$1::text', '$2::text');
  try {
    const row = await ctx.client.transaction(async (s) => {
      await s.exec(UTC_SQL);
      const { rows } = await s.query<{ rows_now: string; without: string | null; last: string | null }>(
        `SELECT count(*)::text AS rows_now,
                ${keyless ? 'NULL' : `count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM ${ctx.q}.audit_changes c WHERE ${keyCondition(scope, keyObjectSql('t', reg.keyColumns))}))::text`} AS without,
                (SELECT to_char(c.captured_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                   FROM (${scopeRows(ctx.q, scope, { select: 'c.captured_at, c.id', where: [`c.op = 'baseline'`], order: 'c.captured_at DESC, c.id DESC', limit: '1' })}) c
                  ORDER BY c.captured_at DESC, c.id DESC LIMIT 1) AS last
           FROM ${qualifiedTable(table)} AS t`,
        [table.schema, table.name],
      );
      return rows[0]!;
    });
    const without = row.without === null ? null : Number(row.without);
    const gap = without === null || without > 0;
    return {
      table: label,
      status: gap ? 'gap' : 'complete',
      capturedSince: reg.capturedSince,
      rowsNow: Number(row.rows_now),
      rowsWithoutHistory: without,
      lastBaselineAt: row.last,
      ...(gap
        ? {
            hint: keyless
              ? 'the table is captured without a key, so rows cannot be matched to history; give it a primary key'
              : `record today's rows as a baseline: threadline continuity baseline --table ${shellWord(label)}`,
          }
        : {}),
    };
  } catch (error) {
    throw toThreadlineError(error, what);
  }
}

/** The captured tables to report on: every one, or the given ones (uncaptured ones included). */
export async function reportTargets(
  ctx: OperationsContext,
  only: TableName[] | null,
  what: string,
): Promise<[TableName, CapturedTable | undefined][]> {
  const regs = await capturedTables(ctx, only, what);
  if (only === null) return regs.map((r) => [{ schema: r.schema, name: r.name }, r]);
  const byKey = new Map(regs.map((r) => [tableKey(r), r]));
  return only.map((t) => [t, byKey.get(tableKey(t))]);
}
