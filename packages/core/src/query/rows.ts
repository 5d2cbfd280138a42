import { exactJsonb } from './exact-json.js';
import type { AuditActionInfo, AuditChange, AuditTransactionInfo, ChangeOp } from './types.js';

/** An exact UTC ISO timestamp with microseconds, rendered by PostgreSQL (session time zone ignored). */
export const isoSql = (expr: string) =>
  `(CASE WHEN NOT isfinite(${expr}) THEN NULL
     WHEN ${expr} AT TIME ZONE 'UTC' >= '0001-01-01' AND ${expr} AT TIME ZONE 'UTC' < '10000-01-01'
     THEN to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
     ELSE ${expandedIsoSql(expr)} END)`;

/**
 * ISO 8601's expanded years (what JavaScript's Date reads and writes): `+012000-01-01T…Z`, and
 * astronomical years before year 1 (`-000043` is 44 BC). Only a hand-edited row holds such an
 * instant; capture never writes one, and inputs are refused outside 0001–9999.
 */
const expandedIsoSql = (expr: string) => {
  const year = `extract(year FROM ${expr} AT TIME ZONE 'UTC')::int`;
  const astronomical = `(CASE WHEN ${year} < 0 THEN ${year} + 1 ELSE ${year} END)`;
  return `CASE WHEN ${astronomical} < 0 THEN '-' ELSE '+' END || lpad(abs(${astronomical})::text, 6, '0')
       || to_char(${expr} AT TIME ZONE 'UTC', '-MM-DD"T"HH24:MI:SS.US"Z"')`;
};

/** The inverse of isoSql, for ordering rows by a column it rendered. */
export const fromIsoSql = (text: string) => {
  const astronomical = `(substr(${text}, 1, 7)::int)`;
  const year = `(CASE WHEN ${astronomical} <= 0 THEN 1 - ${astronomical} ELSE ${astronomical} END)::text`;
  return `(CASE WHEN ${text} IN ('infinity', '-infinity') THEN ${text}::timestamptz
     WHEN left(${text}, 1) IN ('+', '-')
     THEN (lpad(${year}, greatest(4, length(${year})), '0')
           || substr(${text}, 8) || CASE WHEN ${astronomical} <= 0 THEN ' BC' ELSE '' END)::timestamptz
     ELSE ${text}::timestamptz END)`;
};

/**
 * A change's captured_at: isoSql, and a hand-edited `infinity` / `-infinity` as PostgreSQL spells
 * it (not NULL), so the entry says what is stored and the page cursor after it can be made.
 */
const capturedAtSql = (expr: string) =>
  `(CASE WHEN isfinite(${expr}) THEN ${isoSql(expr)} ELSE ${expr}::text END)`;

/**
 * Select list for change entries: `c` is audit_changes (or a subquery of it), `t` its transaction.
 * jsonb columns are selected as text and read with parseExactJson, so numbers keep every digit.
 */
export const CHANGE_COLUMNS = `c.id::text AS id, c.transaction_id::text AS transaction_id, c.table_schema, c.table_name,
  c.table_pk::text AS table_pk, c.table_pk_before::text AS table_pk_before, c.op, c.data_after::text AS data_after,
  c.data_before::text AS data_before, c.changed_fields, c.changed_from::text AS changed_from,
  ${capturedAtSql('c.captured_at')} AS captured_at, t.actor_ref::text AS actor_ref, t.correlation_id`;

export interface ChangeRow {
  id: string;
  transaction_id: string;
  table_schema: string;
  table_name: string;
  /** jsonb as text (or as parsed by a driver) */
  table_pk: unknown;
  /** jsonb as text (or as parsed by a driver) */
  table_pk_before: unknown;
  op: ChangeOp;
  /** jsonb as text (or as parsed by a driver) */
  data_after: unknown;
  /** jsonb as text (or as parsed by a driver) */
  data_before: unknown;
  changed_fields: string[] | null;
  /** jsonb as text (or as parsed by a driver) */
  changed_from: unknown;
  captured_at: string;
  /** jsonb as text (or as parsed by a driver) */
  actor_ref: unknown;
  correlation_id: string | null;
}

export function toChange(r: ChangeRow): AuditChange {
  return {
    id: r.id,
    transactionId: r.transaction_id,
    tableSchema: r.table_schema,
    tableName: r.table_name,
    tablePk: exactJsonb(r.table_pk) ?? {},
    tablePkBefore: exactJsonb(r.table_pk_before),
    op: r.op,
    dataAfter: exactJsonb(r.data_after),
    dataBefore: exactJsonb(r.data_before),
    changedFields: r.changed_fields ?? null,
    changedFrom: exactJsonb(r.changed_from),
    capturedAt: r.captured_at,
    actor: exactJsonb(r.actor_ref),
    correlationId: r.correlation_id ?? null,
  };
}

export const TRANSACTION_COLUMNS = `t.id::text AS id, t.txid::text AS txid, ${isoSql('t.occurred_at')} AS occurred_at,
  t.actor_ref::text AS actor_ref, t.correlation_id, t.request_id, t.job_id, t.causation_id, t.source, t.meta::text AS meta,
  t.action_id::text AS action_id`;

export interface TransactionRow {
  id: string;
  txid: string;
  occurred_at: string;
  /** jsonb as text (or as parsed by a driver) */
  actor_ref: unknown;
  correlation_id: string | null;
  request_id: string | null;
  job_id: string | null;
  causation_id: string | null;
  source: string | null;
  /** jsonb as text (or as parsed by a driver) */
  meta: unknown;
  action_id: string | null;
}

export function toTransaction(r: TransactionRow): AuditTransactionInfo {
  return {
    id: r.id,
    txid: r.txid,
    occurredAt: r.occurred_at,
    actor: exactJsonb(r.actor_ref),
    correlationId: r.correlation_id ?? null,
    requestId: r.request_id ?? null,
    jobId: r.job_id ?? null,
    causationId: r.causation_id ?? null,
    source: r.source ?? null,
    meta: exactJsonb(r.meta),
    actionId: r.action_id ?? null,
  };
}

export const ACTION_COLUMNS = `a.id::text AS id, a.name, a.actor_ref::text AS actor_ref, a.status, a.verb, a.category, a.reason, a.comment,
  a.correlation_id, a.request_id, a.job_id, a.transaction_id::text AS transaction_id, ${isoSql('a.inserted_at')} AS inserted_at`;

export interface ActionRow {
  id: string;
  name: string;
  /** jsonb as text (or as parsed by a driver) */
  actor_ref: unknown;
  status: 'ok' | 'error';
  verb: string | null;
  category: string | null;
  reason: string | null;
  comment: string | null;
  correlation_id: string | null;
  request_id: string | null;
  job_id: string | null;
  transaction_id: string | null;
  inserted_at: string;
}

export function toAction(r: ActionRow): AuditActionInfo {
  return {
    id: r.id,
    name: r.name,
    actor: exactJsonb(r.actor_ref),
    status: r.status,
    verb: r.verb,
    category: r.category,
    reason: r.reason,
    comment: r.comment,
    correlationId: r.correlation_id,
    requestId: r.request_id,
    jobId: r.job_id,
    transactionId: r.transaction_id,
    insertedAt: r.inserted_at,
  };
}
