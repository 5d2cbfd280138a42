import type { TableCaptureOptions } from './capture/table-options.js';
import type { HealthConfig } from './health/config.js';
import type { RetentionPolicy } from './retention/policy.js';
import type { StorageConfig } from './storage/config.js';

/** What createThreadline takes. */
export interface ThreadlineOptions {
  /** A node-postgres Pool or Client, a PGlite instance, or any SqlClient. */
  db: unknown;
  /**
   * Where reads go (history, asOf, timeline, incident, export, health, policy, continuity):
   * usually a Pool on a streaming replica of `db`; the same kinds as `db`. Writes, binding,
   * transactions, install, triggers, retention and revert always use `db`. A read that must see
   * the caller's own just-committed write passes `{ consistency: 'primary' }`. Default: `db`.
   */
  readDb?: unknown;
  /** Storage schema for Threadline's tables and functions. Default `threadline`. */
  schema?: string;
  /** Per-table capture options, keyed by `name` or `schema.name`. */
  tables?: Record<string, TableCaptureOptions>;
  /** Retention policy for tl.retention.purge (exactly one window: keepDays or maxAgeSeconds). */
  retention?: RetentionPolicy;
  /** Coverage expectations: `{ expectedUncoveredTables?, auditAnyway? }` (validated). */
  health?: HealthConfig;
  /** Storage layout: `{ partition: 'none' | 'day' | 'week' | 'month' }` (default month), applied by install. */
  storage?: StorageConfig;
}
