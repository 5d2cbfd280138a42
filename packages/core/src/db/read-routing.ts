import { isThreadlineError, ThreadlineError } from '../errors.js';
import { safeText } from '../safe-text.js';
import type { SqlClient } from './sql-client.js';
import { toSqlClient } from './sql-client.js';

/**
 * Where a read runs. `replica` (the default): on `readDb` when one is configured, else on `db`.
 * `primary`: always on `db`, for a read that must see the caller's own just-committed write.
 */
export type ReadConsistency = 'replica' | 'primary';

/** Accepted by every read method (history, asOf, timeline, incident, export, health, policy, continuity). */
export interface ReadOptions {
  /** `'primary'` reads from `db` even when `readDb` is configured (read-your-writes). Default `'replica'`. */
  consistency?: ReadConsistency;
}

/** The `consistency` option, validated: absent means `'replica'`. */
export function parseConsistency(value: unknown, what: string): ReadConsistency {
  if (value === undefined || value === null) return 'replica';
  if (value === 'primary' || value === 'replica') return value;
  throw new ThreadlineError(
    'QUERY_INVALID',
    `${what}: consistency must be 'primary' (read from db, sees your own committed writes) or 'replica' (read from readDb, the default), got ${JSON.stringify(safeText(value).slice(0, 20))}`,
  );
}

/**
 * The client reads go to: `readDb` normalized like `db` (a node-postgres Pool or Client, a PGlite
 * instance or a SqlClient). Absent, or the very object passed as `db`, means `primary` itself, so
 * one pg Client is never wrapped twice (each wrapper would queue statements on its own).
 */
export function toReadClient(readDb: unknown, db: unknown, primary: SqlClient): SqlClient {
  if (readDb === undefined || readDb === null || readDb === db || readDb === primary) return primary;
  try {
    return toSqlClient(readDb);
  } catch (error) {
    if (!isThreadlineError(error, 'UNSUPPORTED_CLIENT')) throw error;
    throw new ThreadlineError(
      'UNSUPPORTED_CLIENT',
      'createThreadline: readDb must be what db may be (a node-postgres Pool or Client, a PGlite instance, or a SqlClient), usually a Pool on a streaming replica; leave it out to read from db',
      { cause: error },
    );
  }
}

/** Where reads and writes go: `primary` for every write, `replica` (readDb, or primary) for reads. */
export class ReadRouting {
  constructor(
    readonly primary: SqlClient,
    readonly replica: SqlClient,
  ) {}

  /** True when a separate readDb was configured. */
  get separate(): boolean {
    return this.replica !== this.primary;
  }

  /** The client a read of this consistency runs on. */
  client(consistency: ReadConsistency): SqlClient {
    return consistency === 'primary' ? this.primary : this.replica;
  }
}
