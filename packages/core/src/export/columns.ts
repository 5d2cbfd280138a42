import { isoSql } from '../query/rows.js';

/** The columns of an export file, in order (SPEC section 11). */
export const EXPORT_COLUMNS = [
  'id',
  'transaction_id',
  'table_schema',
  'table_name',
  'op',
  'captured_at',
  'table_pk',
  'data_after',
  'data_before',
  'changed_fields',
  'changed_from',
  'actor_type',
  'actor_id',
  'correlation_id',
  'request_id',
  'job_id',
  'source',
  'action_name',
] as const;

export type ExportColumn = (typeof EXPORT_COLUMNS)[number];

/** Columns whose values are JSON (written as JSON in JSON/NDJSON and as compact JSON text in CSV). */
export const JSON_COLUMNS: ReadonlySet<ExportColumn> = new Set([
  'table_pk',
  'data_after',
  'data_before',
  'changed_fields',
  'changed_from',
]);

/**
 * One change as the database renders it for export: every value is text, and jsonb arrives as
 * its PostgreSQL text so numbers beyond 2^53 and every string stay exactly as stored.
 */
export type ExportRow = Record<ExportColumn, string | null>;

/** The select list of an export page: `c` is audit_changes, `t` the transaction's columns below. */
export function exportSelect(q: string): { columns: string; transactionColumns: string } {
  return {
    columns: `c.id::text AS id, c.transaction_id::text AS transaction_id, c.table_schema::text AS table_schema,
      c.table_name::text AS table_name, c.op, ${isoSql('c.captured_at')} AS captured_at,
      c.table_pk::text AS table_pk, c.data_after::text AS data_after, c.data_before::text AS data_before,
      array_to_json(c.changed_fields)::text AS changed_fields, c.changed_from::text AS changed_from,
      t.actor_ref->>'type' AS actor_type, t.actor_ref->>'id' AS actor_id, t.correlation_id, t.request_id,
      t.job_id, t.source, (SELECT a.name FROM ${q}.audit_actions a WHERE a.id = t.action_id) AS action_name`,
    transactionColumns: 't.actor_ref, t.correlation_id, t.request_id, t.job_id, t.source, t.action_id',
  };
}
