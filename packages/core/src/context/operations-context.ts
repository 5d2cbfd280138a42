import type { ConfiguredTable } from '../capture/table-options.js';
import type { ReadConsistency, ReadRouting } from '../db/read-routing.js';
import type { SqlClient } from '../db/sql-client.js';

/** What the operation namespaces (health, policy, continuity) need from a Threadline instance. */
export interface OperationsContext {
  /** The primary (`db`): writes, and reads that must see the latest committed state. */
  readonly client: SqlClient;
  /** The storage schema, unquoted. */
  readonly schema: string;
  /** The storage schema, quoted for SQL text. */
  readonly q: string;
  /** The `tables` option, keyed by tableKey(). */
  readonly tables: ReadonlyMap<string, ConfiguredTable>;
  /** Throws NOT_INSTALLED (naming `what` and the fix) when the storage schema is missing or old. */
  assertInstalled(what: string): Promise<void>;
  /** Where reads and writes go (`readDb` and `db`). */
  readonly routing: ReadRouting;
  /**
   * This context with `client` (and assertInstalled) on the database a read of `consistency`
   * runs on: readDb for `'replica'` when configured, else db. The seam for every catalog or
   * audit-table read that may run on a streaming replica (coverage, policy, continuity report,
   * and later verifications); anything that writes keeps `client`.
   */
  forRead(consistency: ReadConsistency): OperationsContext;
}
