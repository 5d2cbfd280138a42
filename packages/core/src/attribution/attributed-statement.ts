import { contextBinding } from '../context/binding.js';
import { canPipeline, pipelineQuery } from '../db/pg-pipeline.js';
import { queueOf } from '../db/serial-queue.js';
import { pgAttributedQuery, type SqlStatement } from '../db/sql-client.js';
import { ThreadlineError } from '../errors.js';
import {
  embeddedCommitRefused,
  needsAttribution,
  scriptControlRefused,
  scriptTransactionControl,
  transactionControl,
} from './statement-rules.js';

/**
 * How an ORM adapter sends one statement that its library runs outside any transaction of its
 * own, so that the statement is attributed by the same rule and the same code as tl.query.
 */
export interface AttributedStatement<T> {
  /** The statement's SQL text (for the attribution rule; it is sent by `send`). */
  readonly sql: string;
  /** The node-postgres client the library will run it on. */
  readonly connection: object;
  /**
   * Send the statement through the library on `target`: `connection` itself, or a stand-in for
   * it whose `query()` sends the binding statement and the statement in one round trip.
   */
  send(target: object): Promise<T>;
  /** Run one more statement (BEGIN, the binding, COMMIT) through the library on `connection`. */
  run(sql: string, params?: readonly unknown[]): Promise<unknown>;
  /**
   * BEGIN/COMMIT/ROLLBACK sent through this path: `refuse` (default; a pooled handle such as
   * knex or dataSource.query would give the connection back mid-transaction) or `follow` (a
   * handle the application holds, such as a TypeORM QueryRunner: the transaction is the
   * application's, bound right after BEGIN).
   */
  readonly transactionControl?: 'refuse' | 'follow';
  /** The handle `follow` remembers an application transaction on (default: `connection`). */
  readonly handle?: object;
  /** False when the library does not send the statement as a plain query (a stream). */
  readonly pipelinable?: boolean;
}

/** Connections inside a transaction an ORM opened (claimConnection), by where it was opened. */
const claimed = new WeakMap<object, string>();
/** Handles inside a transaction the application opened with a BEGIN statement through them. */
const applicationTransactions = new WeakSet<object>();

function transactionStatus(connection: object): unknown {
  return (connection as { getTransactionStatus?: () => unknown }).getTransactionStatus?.();
}

function foreignTransaction(where: string): ThreadlineError {
  return new ThreadlineError(
    'FOREIGN_TRANSACTION',
    `${where}: the connection is inside a transaction this caller did not open (another caller's, or one a BEGIN statement left open on a pooled connection); refusing to run a write there, where it would be recorded under that transaction's actor. Use the library's transaction API (knex.transaction, dataSource.transaction) and do not send BEGIN as a plain statement`,
  );
}

/**
 * Mark `connection` as inside a transaction the ORM opens now (until `release` is called), so
 * that no statement of another caller joins it. Throws FOREIGN_TRANSACTION when the connection
 * is already inside a transaction (a library that handed one connection to two callers).
 */
export function claimConnection(connection: object, where: string): () => void {
  const status = transactionStatus(connection);
  if (claimed.has(connection) || status === 'T' || status === 'E') throw foreignTransaction(where);
  claimed.set(connection, where);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (claimed.get(connection) === where) claimed.delete(connection);
  };
}

/**
 * A stand-in for a node-postgres client whose next `query(text, values)` runs `binding` and the
 * statement in one implicit transaction (pgAttributedQuery). Queries with options node-postgres
 * handles itself (rowMode, types, a prepared-statement name, a submittable) run between
 * BEGIN + binding and COMMIT instead.
 */
function pipelinedStandIn(connection: object, binding: SqlStatement): object {
  const pg = connection as { query: (...args: unknown[]) => unknown };
  const standIn = Object.create(connection) as { query: (...args: unknown[]) => unknown };
  let used = false;
  standIn.query = (config: unknown, values?: unknown, callback?: unknown) => {
    if (used) return pg.query(config, values, callback);
    used = true;
    const cb = (typeof values === 'function' ? values : callback) as
      | ((error: unknown, result?: unknown) => void)
      | undefined;
    const params = typeof values === 'function' ? undefined : (values as unknown[] | undefined);
    const plain =
      typeof config === 'string' ||
      (typeof config === 'object' &&
        config !== null &&
        typeof (config as { submit?: unknown }).submit !== 'function' &&
        !['rowMode', 'types', 'name'].some((k) => (config as Record<string, unknown>)[k] !== undefined));
    const text = typeof config === 'string' ? config : (config as { text: string }).text;
    const promise = plain
      ? pgAttributedQuery(connection, binding, text, params ?? (config as { values?: unknown[] }).values)
      : explicitTransaction(connection, binding, () => pg.query(config, params) as Promise<unknown>);
    if (!cb) return promise;
    promise.then(
      (result) => cb(null, result),
      (error) => cb(error),
    );
    return undefined;
  };
  return standIn;
}

async function explicitTransaction<T>(
  connection: object,
  binding: SqlStatement,
  body: () => Promise<T>,
  run: (sql: string, params?: readonly unknown[]) => Promise<unknown> = (sql, params) =>
    (connection as { query: (s: string, p?: unknown) => Promise<unknown> }).query(sql, params),
): Promise<T> {
  try {
    if (canPipeline(connection)) await pipelineQuery(connection, [{ sql: 'BEGIN' }, binding]);
    else {
      await run('BEGIN');
      await run(binding.sql, binding.params);
    }
    const result = await body();
    await run('COMMIT');
    return result;
  } catch (error) {
    await run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Run one statement an ORM sends outside its own transactions, attributed by the rule tl.query
 * uses (needsAttribution): while an audit context is active, a statement that is not provably
 * read-only runs with the binding statement in one implicit transaction (one round trip on
 * node-postgres; BEGIN, binding, statement, COMMIT where that is impossible). Statements on one
 * connection take turns, so concurrent callers sharing it never share a transaction. A statement
 * that may write is refused (FOREIGN_TRANSACTION) on a connection inside a transaction its caller
 * did not open.
 */
export function runAttributedStatement<T>(statement: AttributedStatement<T>): Promise<T> {
  const { sql, connection } = statement;
  const handle = statement.handle ?? connection;
  const script = scriptTransactionControl(sql);
  const control = script === 'none' ? transactionControl(sql) : null;
  if (control === 'begin' || control === 'end') {
    if (statement.transactionControl !== 'follow') {
      return Promise.reject(
        new ThreadlineError(
          'TRANSACTION_CONTROL',
          `${sql.trim().split(/\s+/)[0]} sent as a plain statement would give a pooled connection back mid-transaction, where other callers' writes join it; use the library's transaction API (knex.transaction(), dataSource.transaction(), queryRunner.startTransaction())`,
        ),
      );
    }
  }
  if (script !== 'none') {
    // Without a context a complete BEGIN … COMMIT script runs as the library would run it.
    const bound = contextBinding() !== null;
    if (bound || (script === 'open' && statement.transactionControl !== 'follow')) {
      return Promise.reject(scriptControlRefused('runAttributedStatement', bound));
    }
  }
  return queueOf(connection)
    .run(() => runQueued(statement, control, script, handle))
    .catch((error: unknown) => {
      throw embeddedCommitRefused(error, 'runAttributedStatement');
    });
}

async function runQueued<T>(
  statement: AttributedStatement<T>,
  control: ReturnType<typeof transactionControl>,
  script: ReturnType<typeof scriptTransactionControl>,
  handle: object,
): Promise<T> {
  const { sql, connection, send, run } = statement;
  if (script === 'open') {
    // A script through a handle the application holds that leaves its own transaction open.
    const result = await send(connection);
    applicationTransactions.add(handle);
    return result;
  }
  if (control === 'begin' || control === 'end') {
    const result = await send(connection);
    if (control === 'end') applicationTransactions.delete(handle);
    else {
      applicationTransactions.add(handle);
      const binding = contextBinding();
      if (binding) await run(binding.sql, binding.params);
    }
    return result;
  }
  const status = transactionStatus(connection);
  const inTransaction = status === 'T' || status === 'E';
  if (!inTransaction) applicationTransactions.delete(handle);
  const attribute = needsAttribution(sql);
  const where = claimed.get(connection);
  if (where !== undefined || (inTransaction && !applicationTransactions.has(handle))) {
    if (attribute) throw foreignTransaction(where ?? 'runAttributedStatement');
    return send(connection);
  }
  const binding = attribute && !inTransaction ? contextBinding() : null;
  if (!binding) return send(connection);
  if (statement.pipelinable !== false && canPipeline(connection)) {
    return send(pipelinedStandIn(connection, binding));
  }
  return explicitTransaction(connection, binding, () => send(connection), run);
}
