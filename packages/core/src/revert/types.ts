import type { ActorRef } from '../context/actor-ref.js';
import type { RowKey } from '../query/types.js';

/** What to undo: one audit transaction, every transaction of a correlation id, or one row back to a point. */
export type RevertTarget =
  | { transactionId: string | number | bigint }
  | { correlationId: string }
  | {
      /** `name` or `schema.name`. */
      table: string;
      /** A key value, or `{ col: value }` naming every key column. */
      pk: RowKey;
      /** Restore the row as it was right after this change id, or as it was at this instant. */
      to: string | number | bigint | Date;
    };

export type RevertStepOp = 'insert' | 'update' | 'delete';

/** One compensating statement for one row (the net effect of all its reverted changes). */
export interface RevertStep {
  /** `schema.name`, quoted where needed: the table's name now (found by table id, so a rename or a name swap since the change writes to the table that was changed). */
  table: string;
  /** The name the reverted changes were recorded under, when the table has been renamed since. */
  recordedAs?: string;
  /** The key the statement addresses (for an INSERT: the key the row gets back). */
  pk: Record<string, unknown>;
  op: RevertStepOp;
  /** UPDATE: the columns written back and their values; INSERT: the whole row. Display only; numbers JavaScript cannot hold exactly are strings of their exact digits, as in `pk`. */
  set?: Record<string, unknown>;
  /** The single-row statement; `$1` is `params[0]`. Apply runs set-based equivalents in batches. */
  sql: string;
  params: string[];
  /** Internal: exact stored JSON the statement writes and the row as the reverted changes left it (null: no row). */
  data: string | null;
  expect: string | null;
  /** Internal: the key the row has now (UPDATE/DELETE), as stored JSON. */
  key: string;
  tableSchema: string;
  tableName: string;
  /** Internal: the relation's oid when planned; apply refuses when the name now points elsewhere. */
  relid: string;
}

export type RevertConflictKind =
  | 'changed_since'
  | 'not_stored'
  | 'key_changed'
  | 'key_taken'
  | 'deleted_since'
  | 'fk_cycle'
  | 'key_cycle'
  | 'order_unknown';

export interface RevertConflict {
  table: string;
  pk: Record<string, unknown>;
  kind: RevertConflictKind;
  /** What is wrong and what to do about it, naming columns, actors and times. */
  detail: string;
  /** changed_since / key_changed / key_taken / deleted_since: the later change and who made it. */
  changeId?: string;
  transactionId?: string;
  actor?: ActorRef | null;
  at?: string;
  /** not_stored: the columns whose values were never stored. */
  columns?: string[];
}

export interface RevertSummary {
  /** Human-readable one-liner, e.g. "revert audit transaction 42: 3 rows in 2 tables (1 insert, 2 delete)". */
  text: string;
  target: {
    transactionId?: string;
    correlationId?: string;
    table?: string;
    pk?: Record<string, unknown>;
    to?: string;
  };
  transactions: string[];
  changes: number;
  rows: number;
  tables: string[];
  ops: Record<RevertStepOp, number>;
  conflicts: Record<RevertConflictKind, number>;
}

export interface RevertPlan {
  steps: RevertStep[];
  conflicts: RevertConflict[];
  summary: RevertSummary;
  /** The audit transaction id (or the correlation id) the revert is caused by. */
  causationId: string;
  /** When the plan was made (ISO), for display. */
  plannedAt: string;
}

export interface RevertProgress {
  table: string;
  op: RevertStepOp;
  done: number;
  total: number;
}

export interface RevertApplyOptions {
  /** Apply even though rows changed again since the reverted change (never overrides values not stored). */
  force?: boolean;
  /** Who reverts; default the current audit context's actor. Required one way or the other. */
  actor?: ActorRef;
  /** Why (stored on the threadline.revert action). */
  reason?: string;
  /** Rows per set-based statement (default 1000). */
  batchSize?: number;
  onProgress?: (progress: RevertProgress) => void;
}

export interface RevertApplyResult {
  auditTransactionId: string | null;
  /** Rows written (inserted, updated or deleted). */
  applied: number;
  actionId: string;
}
