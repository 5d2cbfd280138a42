import type { SqlClient, SqlResult, SqlSession, SqlStatement } from './sql-client.js';

/**
 * The first statement of every transaction that takes one of Threadline's advisory locks and then
 * reads what the previous holder wrote (the seal chain, retention runs, partitions, key batches,
 * the activity rollup). Under a `default_transaction_isolation` of repeatable read or
 * serializable, the transaction's snapshot is taken by its first query, the lock call, before it
 * waits: after the wait it would not see the previous holder's work (a seal would append a second
 * link after the same predecessor, forking the chain). SET TRANSACTION takes no snapshot.
 */
const READ_COMMITTED: SqlStatement = { sql: 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED' };

/** `client.transaction(fn)` at READ COMMITTED whatever the session's default isolation is. */
export function readCommitted<T>(client: SqlClient, fn: (s: SqlSession) => Promise<T>): Promise<T> {
  return client.transaction((s) => fn(s), { start: READ_COMMITTED });
}

/** One statement (a function that locks, then reads) in its own READ COMMITTED transaction. */
export function queryReadCommitted<R = Record<string, unknown>>(
  client: SqlClient,
  sql: string,
  params?: readonly unknown[],
): Promise<SqlResult<R>> {
  return readCommitted(client, (s) => s.query<R>(sql, params));
}
