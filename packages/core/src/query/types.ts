import type { ActorRef } from '../context/actor-ref.js';
import type { ReadOptions } from '../db/read-routing.js';

/** `baseline`: the row as it was when tl.continuity.baseline recorded it (known state from then on). */
export type ChangeOp = 'insert' | 'update' | 'delete' | 'truncate' | 'baseline';

/** One captured row change, as every query returns it (camelCase; ids as strings). */
export interface AuditChange {
  id: string;
  transactionId: string;
  tableSchema: string;
  tableName: string;
  /** The row's key: `{ id: 42 }`, `{ org_id: 1, user_id: 9 }`. `{}` for TRUNCATE. */
  tablePk: Record<string, unknown>;
  /** The old key, only for an UPDATE that changed the key. */
  tablePkBefore: Record<string, unknown> | null;
  op: ChangeOp;
  dataAfter: Record<string, unknown> | null;
  dataBefore: Record<string, unknown> | null;
  changedFields: string[] | null;
  changedFrom: Record<string, unknown> | null;
  /**
   * ISO 8601 in UTC with microseconds, e.g. `2026-11-28T19:35:35.660123Z`; only a row edited by
   * hand can hold an expanded year (`+012000-…`) or `infinity` / `-infinity`.
   */
  capturedAt: string;
  /** The actor bound into the transaction, or null. */
  actor: ActorRef | null;
  correlationId: string | null;
}

/** A page of results, newest first. Pass `cursor` back to get the next page. */
export interface Page<T> {
  entries: T[];
  /** Opaque; null when there is nothing more. */
  cursor: string | null;
  hasMore: boolean;
}

export interface PageOptions extends ReadOptions {
  cursor?: string | null;
  /** 1–1000, default 50. */
  pageSize?: number;
}

export interface TimeWindow {
  /** Inclusive lower bound (Date or ISO 8601 string). */
  from?: Date | string;
  /** Inclusive upper bound (Date or ISO 8601 string). */
  to?: Date | string;
}

/** A single-column key value, or an object naming every key column. */
export type RowKey = string | number | bigint | boolean | Record<string, unknown>;

export type AsOfResult =
  | { status: 'found'; row: Record<string, unknown>; change: AuditChange }
  | { status: 'deleted'; lastRow: Record<string, unknown> | null; deletedAt: string; change: AuditChange }
  | {
      status: 'before_horizon';
      /** The earliest captured change of this row, if any (after `at`). */
      firstChange: { op: ChangeOp; capturedAt: string } | null;
    };

export interface AuditTransactionInfo {
  id: string;
  txid: string;
  occurredAt: string;
  actor: ActorRef | null;
  correlationId: string | null;
  requestId: string | null;
  jobId: string | null;
  causationId: string | null;
  source: string | null;
  meta: Record<string, unknown> | null;
  actionId: string | null;
}

export interface AuditActionInfo {
  id: string;
  name: string;
  actor: ActorRef;
  status: 'ok' | 'error';
  verb: string | null;
  category: string | null;
  reason: string | null;
  comment: string | null;
  correlationId: string | null;
  requestId: string | null;
  jobId: string | null;
  transactionId: string | null;
  insertedAt: string;
}

export interface FieldDiff {
  field: string;
  /** Present for updates (when changed_from was stored) and deletes. */
  before?: unknown;
  /** Present for inserts and updates. */
  after?: unknown;
  /** True when the value is a mask placeholder, not the real value. */
  redacted?: boolean;
}

export interface ChangeDiff {
  op: ChangeOp;
  /** False when the table does not store old values (changedFrom: false), so `before` is unknown. */
  beforeKnown: boolean;
  fields: FieldDiff[];
}

/**
 * The incident bundle: one transaction, who and why, and its changes with their diffs in capture
 * order: all of them when `hasMoreChanges` is false, else the first `changeLimit` (after
 * `changeCursor`).
 */
export interface IncidentBundle {
  transaction: AuditTransactionInfo;
  /** The action linked to the transaction (the first one recorded in it), or null. */
  action: AuditActionInfo | null;
  /** Every action recorded in the transaction. */
  actions: AuditActionInfo[];
  changes: { change: AuditChange; diff: ChangeDiff }[];
  /** Reverts of this transaction (or of its correlation id) by tl.revert.apply: by whom and when. */
  revertedBy: { auditTransactionId: string; actor: ActorRef | null; at: string; actionId: string | null }[];
  /** How many changes the transaction has in all (not only in this bundle). */
  changeCount: number;
  /** True when more changes follow the ones in `changes`. */
  hasMoreChanges: boolean;
  /** Pass as `changeCursor` for the next changes; null when `hasMoreChanges` is false. */
  changeCursor: string | null;
}

export interface IncidentOptions extends ReadOptions {
  /** Changes per call, 1–10000, default 10000. */
  changeLimit?: number;
  /** The `changeCursor` of the previous call, to continue with the next changes. */
  changeCursor?: string | null;
}
