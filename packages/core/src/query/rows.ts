import type { ActorRef } from '../actor-ref.js';
import type { AuditActionInfo, AuditChange, AuditTransactionInfo, ChangeOp } from './types.js';

/** An exact UTC ISO timestamp with microseconds, rendered by PostgreSQL (session time zone ignored). */
export const isoSql = (expr: string) =>
  `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Select list for change entries: `c` is audit_changes (or a subquery of it), `t` its transaction. */
export const CHANGE_COLUMNS = `c.id::text AS id, c.transaction_id::text AS transaction_id, c.table_schema, c.table_name,
  c.table_pk, c.table_pk_before, c.op, c.data_after, c.data_before, c.changed_fields, c.changed_from,
  ${isoSql('c.captured_at')} AS captured_at, t.actor_ref, t.correlation_id`;

export interface ChangeRow {
  id: string;
  transaction_id: string;
  table_schema: string;
  table_name: string;
  table_pk: Record<string, unknown>;
  table_pk_before: Record<string, unknown> | null;
  op: ChangeOp;
  data_after: Record<string, unknown> | null;
  data_before: Record<string, unknown> | null;
  changed_fields: string[] | null;
  changed_from: Record<string, unknown> | null;
  captured_at: string;
  actor_ref: ActorRef | null;
  correlation_id: string | null;
}

export function toChange(r: ChangeRow): AuditChange {
  return {
    id: r.id,
    transactionId: r.transaction_id,
    tableSchema: r.table_schema,
    tableName: r.table_name,
    tablePk: r.table_pk,
    tablePkBefore: r.table_pk_before ?? null,
    op: r.op,
    dataAfter: r.data_after ?? null,
    dataBefore: r.data_before ?? null,
    changedFields: r.changed_fields ?? null,
    changedFrom: r.changed_from ?? null,
    capturedAt: r.captured_at,
    actor: r.actor_ref ?? null,
    correlationId: r.correlation_id ?? null,
  };
}

export const TRANSACTION_COLUMNS = `t.id::text AS id, t.txid::text AS txid, ${isoSql('t.occurred_at')} AS occurred_at, t.actor_ref,
  t.correlation_id, t.request_id, t.job_id, t.causation_id, t.source, t.meta, t.action_id::text AS action_id`;

export interface TransactionRow {
  id: string;
  txid: string;
  occurred_at: string;
  actor_ref: ActorRef | null;
  correlation_id: string | null;
  request_id: string | null;
  job_id: string | null;
  causation_id: string | null;
  source: string | null;
  meta: Record<string, unknown> | null;
  action_id: string | null;
}

export function toTransaction(r: TransactionRow): AuditTransactionInfo {
  return {
    id: r.id,
    txid: r.txid,
    occurredAt: r.occurred_at,
    actor: r.actor_ref ?? null,
    correlationId: r.correlation_id ?? null,
    requestId: r.request_id ?? null,
    jobId: r.job_id ?? null,
    causationId: r.causation_id ?? null,
    source: r.source ?? null,
    meta: r.meta ?? null,
    actionId: r.action_id ?? null,
  };
}

export const ACTION_COLUMNS = `a.id::text AS id, a.name, a.actor_ref, a.status, a.verb, a.category, a.reason, a.comment,
  a.correlation_id, a.request_id, a.job_id, a.transaction_id::text AS transaction_id, ${isoSql('a.inserted_at')} AS inserted_at`;

export interface ActionRow {
  id: string;
  name: string;
  actor_ref: ActorRef;
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
    actor: r.actor_ref,
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
