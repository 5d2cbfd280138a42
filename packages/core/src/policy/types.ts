import type { ReadOptions } from '../db/read-routing.js';

/** Redaction as configured or as deployed: column names and the placeholder only, never a value. */
export interface Redaction {
  exclude: string[];
  mask: string[];
  maskPlaceholder: string;
}

export type PolicyState = 'matches' | 'drift' | 'not_deployed' | 'could_not_introspect';

export interface PolicyDifference {
  field: 'exclude' | 'mask' | 'maskPlaceholder';
  configured: string[] | string;
  deployed: string[] | string;
}

export interface PolicyEntry {
  table: string;
  state: PolicyState;
  /** False when the table is captured but not in the `tables` option (configured = no redaction). */
  inConfig: boolean;
  configured: Redaction;
  /** What the installed capture function does, or null when it is not deployed or not readable. */
  deployed: Redaction | null;
  differences: PolicyDifference[];
  /** Why the state is could_not_introspect or not_deployed, and what to run. */
  reason?: string;
}

export interface PolicyReport {
  checkedAt: string;
  tables: PolicyEntry[];
}

export interface PolicyOptions extends ReadOptions {
  /** Only these tables (`name` or `schema.name`); default: every configured or captured table. */
  tables?: readonly string[];
}
