import type { ReadOptions } from '../db/read-routing.js';
import type { ReadReplicaStatus } from './read-replica.js';

export type FindingCode =
  | 'capture_trigger_disabled'
  | 'capture_trigger_missing'
  | 'capture_trigger_altered'
  | 'capture_function_altered'
  | 'duplicate_capture_trigger'
  | 'foreign_capture_function'
  | 'stale_capture_function'
  | 'key_drift'
  | 'unregistered_capture'
  | 'replica_mode_gap'
  | 'extension_dependency'
  | 'unsafe_cast'
  | 'audit_sequence_cache';

/** Something wrong with capture on one table, read from the catalogs, with the exact repair. */
export interface Finding {
  code: FindingCode;
  severity: 'error' | 'warning';
  schema: string;
  table: string;
  message: string;
  /** The exact command or SQL that repairs it. */
  fix: string;
}

export interface SchemaCoverage {
  schema: string;
  covered: string[];
  uncovered: string[];
  expectedUncovered: { table: string; source: 'baseline' | 'config' }[];
}

export interface CoverageReport {
  checkedAt: string;
  schemas: SchemaCoverage[];
  findings: Finding[];
  /** With a separate readDb (and the default consistency): how far behind the primary it was. */
  readReplica?: ReadReplicaStatus;
}

/** Which schemas to check: one, several, or every schema with tables (`'all'`). */
export type SchemaSelection = string | readonly string[] | 'all';

export interface CoverageOptions extends ReadOptions {
  /** Default: `public` plus every schema that holds a configured or captured table. */
  schema?: SchemaSelection;
}

export interface FindingsOptions extends ReadOptions {
  /** Default: every schema (`'all'`). */
  schema?: SchemaSelection;
}

export interface VerifyOptions extends ReadOptions {
  /** Tables that must be captured: `name` (in public) or `schema.name`. */
  expectedTables: readonly string[];
}

export interface VerifiedTable {
  table: string;
  status: 'covered' | 'uncovered' | 'missing';
  /** Codes of error-severity findings on this table (any one fails the gate). */
  errors: string[];
}

export interface VerifyReport {
  ok: boolean;
  tables: VerifiedTable[];
  findings: Finding[];
}
