import type { ConfiguredTable } from '../capture/table-options.js';
import type { SqlClient } from '../db/sql-client.js';

/** What the operation namespaces (health, policy, continuity) need from a Threadline instance. */
export interface OperationsContext {
  readonly client: SqlClient;
  /** The storage schema, unquoted. */
  readonly schema: string;
  /** The storage schema, quoted for SQL text. */
  readonly q: string;
  /** The `tables` option, keyed by tableKey(). */
  readonly tables: ReadonlyMap<string, ConfiguredTable>;
  /** Throws NOT_INSTALLED (naming `what` and the fix) when the storage schema is missing or old. */
  assertInstalled(what: string): Promise<void>;
}
