import { isoSql } from '../query/rows.js';
import { Params } from '../query/sql-parts.js';
import { timelineScanSql, timelineSql } from '../query/timeline-sql.js';
import type { ParsedTimelineFilters } from '../query/validate.js';
import { EXPORT_COLUMNS, type ExportColumn, JSON_COLUMNS } from './columns.js';
import type { ExportFormat } from './options.js';

/**
 * The export's records are written by PostgreSQL, so this process only moves bytes: CSV by COPY's
 * own CSV output (or the same rules in SQL for paged reads), JSON objects by row_to_json. Every
 * value is PostgreSQL's text: jsonb as it prints it, never parsed, so big numbers and decimals keep
 * every digit; strings are JSON-encoded by PostgreSQL (the escapes of JSON.stringify).
 */

/** Columns that are text (the formula guard applies to them in CSV); the others are ids, times and JSON. */
const GUARDED: ReadonlySet<ExportColumn> = new Set([
  'table_schema',
  'table_name',
  'actor_type',
  'actor_id',
  'correlation_id',
  'request_id',
  'job_id',
  'source',
  'action_name',
]);

const VALUE: Record<ExportColumn, string> = {
  id: 'c.id::text',
  transaction_id: 'c.transaction_id::text',
  table_schema: 'c.table_schema',
  table_name: 'c.table_name',
  op: 'c.op',
  captured_at: isoSql('c.captured_at'),
  table_pk: 'c.table_pk',
  data_after: 'c.data_after',
  data_before: 'c.data_before',
  changed_fields: 'array_to_json(c.changed_fields)',
  changed_from: 'c.changed_from',
  actor_type: "t.actor_ref->>'type'",
  actor_id: "t.actor_ref->>'id'",
  correlation_id: 't.correlation_id',
  request_id: 't.request_id',
  job_id: 't.job_id',
  source: 't.source',
  action_name: '',
};

/** A `'` in front of a value a spreadsheet would evaluate (starting with = + - @ tab or CR). */
const guarded = (v: string) =>
  `CASE WHEN ascii(${v}) IN (61, 43, 45, 64, 9, 13) THEN '''' || (${v}) ELSE ${v} END`;

/**
 * The export's columns, named and in order, over `c` (audit_changes), `t` (its transaction) and
 * `a` (the transaction's action). `json: 'text'` gives the JSON values as text (for CSV).
 * JSON values start with `{` or `[` (objects and arrays by capture), so the guard never needs them.
 */
export function exportColumnsSql(o: {
  formulaGuard: boolean;
  json: 'json' | 'text';
  /** Where the action's name comes from: `a.name` (joined) or a column of `t`. */
  actionName: string;
}): string {
  return EXPORT_COLUMNS.map((column) => {
    let v = column === 'action_name' ? o.actionName : VALUE[column];
    if (o.formulaGuard && GUARDED.has(column)) v = guarded(v);
    else if (o.json === 'text' && JSON_COLUMNS.has(column)) v = `${v}::text`;
    return `${v} AS ${column}`;
  }).join(', ');
}

/** The joins behind `t` and `a`. */
export const exportJoinsSql = (q: string) =>
  `JOIN ${q}.audit_transactions t ON t.id = c.transaction_id LEFT JOIN ${q}.audit_actions a ON a.id = t.action_id`;

/**
 * One CSV cell by COPY's CSV rules (so paged and COPY exports are the same bytes): null is an
 * empty field; a value is quoted (quotes doubled) when it is empty or holds a quote, comma, CR or LF.
 */
function csvCellSql(v: string): string {
  const quote = `${v} = '' OR ${v} LIKE '%"%' OR ${v} LIKE '%,%' OR strpos(${v}, chr(10)) > 0 OR strpos(${v}, chr(13)) > 0`;
  return `CASE WHEN ${v} IS NULL THEN '' WHEN ${quote} THEN '"' || replace(${v}, '"', '""') || '"' ELSE ${v} END`;
}

/** One record as text over the export columns of `x`: a CSV record with CR LF, or a JSON object. */
function recordSql(format: ExportFormat): string {
  if (format !== 'csv') return 'row_to_json(x)::text';
  return `concat(${EXPORT_COLUMNS.map((column) => csvCellSql(`x.${column}`)).join(", ',', ")}, chr(13), chr(10))`;
}

/**
 * The COPY statement of a whole export (`params` are bound as settings, see copy-source.ts):
 * CSV by COPY's CSV output (LF line ends, turned into CR LF as the bytes pass), JSON objects as
 * binary COPY of row_to_json (each value exactly the object's text).
 */
export function exportCopySql(
  q: string,
  p: Params,
  f: ParsedTimelineFilters,
  o: { format: ExportFormat; formulaGuard: boolean; limit: number | null },
): string {
  const csv = o.format === 'csv';
  const columns = exportColumnsSql({
    formulaGuard: csv && o.formulaGuard,
    json: 'json',
    actionName: 'a.name',
  });
  const limit = o.limit === null ? null : `${p.add(String(o.limit))}::bigint`;
  const scan = timelineScanSql(q, p, f, limit, columns, exportJoinsSql(q));
  return csv
    ? `COPY (${scan}) TO STDOUT (FORMAT csv)`
    : `COPY (SELECT row_to_json(x) FROM (${scan}) x) TO STDOUT (FORMAT binary)`;
}

/**
 * One page of an export (reads that are not COPY: PGlite, a single Client, other clients): the
 * timeline's keyset query with the export columns, each row's finished record and its position.
 */
export function exportPageSql(
  q: string,
  f: ParsedTimelineFilters,
  o: { format: ExportFormat; formulaGuard: boolean },
  after: { capturedAt: string; id: string } | null,
  limit: number,
): { sql: string; params: unknown[] } {
  const p = new Params();
  const csv = o.format === 'csv';
  const columns = exportColumnsSql({
    formulaGuard: csv && o.formulaGuard,
    json: csv ? 'text' : 'json',
    actionName: 't.action_name',
  });
  // timelineSql looks up `t` (with its action's name) once per change.
  const page = timelineSql(q, p, f, after, p.add(limit), {
    columns,
    transactionColumns: `t.actor_ref, t.correlation_id, t.request_id, t.job_id, t.source,
      (SELECT a.name FROM ${q}.audit_actions a WHERE a.id = t.action_id) AS action_name`,
  });
  // The subquery keeps its order (it is sorted, so it is not flattened into this query).
  const sql = `SELECT ${recordSql(o.format)} AS record, x.id, x.captured_at FROM (${page}) x`;
  return { sql, params: p.values };
}
