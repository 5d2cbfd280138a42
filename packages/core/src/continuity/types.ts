import type { ActorRef } from '../context/actor-ref.js';
import type { ReadOptions } from '../db/read-routing.js';

export interface ContinuityEntry {
  table: string;
  /**
   * `complete`: every current row has history (or a baseline); `gap`: some rows were there before
   * capture and have none yet; `not_captured`: the table has no capture installed.
   */
  status: 'complete' | 'gap' | 'not_captured';
  /** When capture was first installed on the table. */
  capturedSince: string | null;
  /** Rows in the table now. */
  rowsNow: number | null;
  /** Current rows with no audit row at all (their state before their next change is unknown). */
  rowsWithoutHistory: number | null;
  /** The newest baseline recorded for the table, if any. */
  lastBaselineAt: string | null;
  /** What to run about a gap. */
  hint?: string;
}

export interface ContinuityReport {
  checkedAt: string;
  tables: ContinuityEntry[];
}

export interface ContinuityReportOptions extends ReadOptions {
  /** Only these tables (`name` or `schema.name`); default: every captured table. */
  tables?: readonly string[];
}

export interface BaselineProgress {
  table: string;
  batch: number;
  scanned: number;
  recorded: number;
  /** Rows in the table when the baseline started. */
  total: number;
}

export interface BaselineOptions {
  /** The captured table whose current rows to record (`name` or `schema.name`). */
  table: string;
  /** Rows per batch (each batch is one transaction). Default 1000, at most 100000. */
  batchSize?: number;
  /** Who runs it: default the active audit context's actor. */
  actor?: ActorRef;
  onProgress?: (progress: BaselineProgress) => void;
}

export interface BaselineResult {
  table: string;
  batches: number;
  /** Rows read. */
  scanned: number;
  /** Baseline rows written (rows that already had history or a baseline are skipped). */
  recorded: number;
  startedAt: string;
  finishedAt: string;
}
