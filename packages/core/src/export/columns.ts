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

/** Columns whose values are JSON (embedded as JSON in JSON/NDJSON, as their JSON text in CSV). */
export const JSON_COLUMNS: ReadonlySet<ExportColumn> = new Set([
  'table_pk',
  'data_after',
  'data_before',
  'changed_fields',
  'changed_from',
]);
