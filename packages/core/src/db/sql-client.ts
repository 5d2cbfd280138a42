import { cannotBeWrapped, isScript, mayCommitInside } from '../attribution/statement-rules.js';
import { ThreadlineError } from '../errors.js';
import { canPipeline, type PipelineResult, pipelineQuery } from './pg-pipeline.js';
import { type QueueHold, queueOf } from './serial-queue.js';

export interface SqlResult<R = Record<string, unknown>> {
  rows: R[];
  rowCount: number | null;
}

/** One connection, usually inside a transaction. */
export interface SqlSession {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<SqlResult<R>>;
  /** Run a script of several statements without parameters. */
  exec(sql: string): Promise<void>;
}

/**
 * The database seam. Core normalizes node-postgres Pools and Clients and PGlite into this;
 * anything else can implement it directly.
 */
export interface SqlClient extends SqlSession {
  readonly kind: 'pg-pool' | 'pg-client' | 'pglite' | 'custom';
  /** The node-postgres Pool of a 'pg-pool' client: streaming reads (export's COPY) hold one of its connections. */
  readonly pgPool?: unknown;
  /**
   * The one connection every statement goes through (a pg Client, a PGlite), when there is one:
   * Threadline instances sharing it share which transaction each async context is in.
   */
  readonly connection?: object;
  /**
   * Run `fn` on one connection between BEGIN and COMMIT (ROLLBACK when it throws). `hooks.start`
   * runs right after BEGIN and `hooks.finish` (constant, parameterless SQL) right before COMMIT,
   * each in the same round trip as BEGIN / COMMIT where the driver allows it.
   * Custom implementations must run both hooks. `fn` calls its second argument once the
   * application's callback settled (work it left behind must not count as the transaction's own
   * from then on); an implementation that lets only the transaction's own work through while it
   * holds the connection uses it, others may ignore it.
   */
  transaction<T>(fn: TransactionBody<T>, hooks?: TransactionHooks): Promise<T>;
  /**
   * Run `first`, then `sql`, atomically in one short transaction (one round trip for
   * node-postgres), returning the result of `sql`. Used for attributed autocommit writes.
   */
  queryAfter<R = Record<string, unknown>>(
    first: SqlStatement,
    sql: string,
    params?: readonly unknown[],
  ): Promise<SqlResult<R>>;
}

/** A transaction's body: `callbackSettled` is called when the application's callback settled. */
export type TransactionBody<T> = (session: SqlSession, callbackSettled?: () => void) => Promise<T>;

export interface SqlStatement {
  readonly sql: string;
  readonly params?: readonly unknown[];
}

interface TransactionHooks {
  readonly start?: SqlStatement;
  readonly finish?: TransactionFinish;
}

export interface TransactionFinish {
  readonly sql: string;
  rows(rows: Record<string, unknown>[]): void;
}

interface PgLikeClient {
  query(text: string, values?: readonly unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
  query(text: string): Promise<unknown>;
}
interface PgLikePoolClient extends PgLikeClient {
  release(err?: Error | boolean): void;
  on?(event: 'error', listener: (error: Error) => void): unknown;
  removeListener?(event: 'error', listener: (error: Error) => void): unknown;
}
interface PgLikePool extends PgLikeClient {
  connect(): Promise<PgLikePoolClient>;
  totalCount: number;
}
interface PgLiteResult {
  rows: unknown[];
  affectedRows?: number;
}
interface PgLiteLike {
  query(sql: string, params?: unknown[]): Promise<PgLiteResult>;
  exec(sql: string): Promise<PgLiteResult[]>;
  transaction<T>(
    fn: (tx: { query: PgLiteLike['query']; exec: PgLiteLike['exec'] }) => Promise<T>,
  ): Promise<T>;
}

function isPgPool(db: unknown): db is PgLikePool {
  return (
    typeof db === 'object' &&
    db !== null &&
    typeof (db as PgLikePool).connect === 'function' &&
    'totalCount' in db
  );
}
function isPgClient(db: unknown): db is PgLikeClient {
  return (
    typeof db === 'object' &&
    db !== null &&
    typeof (db as PgLikeClient).query === 'function' &&
    'connectionParameters' in db
  );
}
function isPgLite(db: unknown): db is PgLiteLike {
  return (
    typeof db === 'object' &&
    db !== null &&
    typeof (db as PgLiteLike).exec === 'function' &&
    typeof (db as PgLiteLike).transaction === 'function' &&
    'waitReady' in db
  );
}
function isSqlClient(db: unknown): db is SqlClient {
  return (
    typeof db === 'object' &&
    db !== null &&
    typeof (db as SqlClient).query === 'function' &&
    typeof (db as SqlClient).transaction === 'function' &&
    typeof (db as SqlClient).exec === 'function' &&
    typeof (db as SqlClient).queryAfter === 'function' &&
    'kind' in db
  );
}

function pgSession(client: PgLikeClient): SqlSession {
  return {
    async query<R>(sql: string, params?: readonly unknown[]) {
      const res = lastResult(await client.query(sql, params as unknown[] | undefined));
      return { rows: (res.rows ?? []) as R[], rowCount: res.rowCount ?? null };
    },
    async exec(sql: string) {
      await client.query(sql);
    },
  };
}

async function pgTransaction<T>(
  client: PgLikeClient,
  fn: TransactionBody<T>,
  hooks: TransactionHooks = {},
  hold?: QueueHold,
): Promise<T> {
  const { start, finish } = hooks;
  try {
    if (start && canPipeline(client)) {
      await pipelineQuery(client, [{ sql: 'BEGIN' }, start]);
    } else {
      await client.query('BEGIN');
      if (start) await client.query(start.sql, start.params as unknown[] | undefined);
    }
    const result = await fn(pgSession(client), () => hold?.seal());
    if (finish) {
      // One simple-protocol message of constant text (never user values): `finish; COMMIT`.
      const raw = (await client.query(`${finish.sql}; COMMIT`)) as unknown;
      const first = Array.isArray(raw) ? raw[0] : raw;
      finish.rows(((first as { rows?: Record<string, unknown>[] })?.rows ?? []) as Record<string, unknown>[]);
    } else {
      await client.query('COMMIT');
    }
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** The last result of a simple-protocol call that ran several statements, else the result. */
function lastResult(raw: unknown): { rows?: unknown[]; rowCount?: number | null } {
  const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  return (value ?? {}) as { rows?: unknown[]; rowCount?: number | null };
}

/**
 * Run `sql` so that `first` (the binding statement) applies to it, on a node-postgres client that
 * is not in a transaction: `first` and `sql` pipelined in one implicit transaction (one round
 * trip). When PostgreSQL will not run `sql` that way, a script of several statements runs as
 * BEGIN + `first`, the script, COMMIT, and a statement that cannot run in a transaction block
 * (VACUUM, CREATE INDEX CONCURRENTLY: they change no rows) runs alone. Resolves with
 * node-postgres' own result of `sql` (its last one for a script). The one implementation of
 * "attribute a statement sent outside a transaction" for tl.query and the ORM adapters.
 */
export async function pgAttributedQuery(
  client: unknown,
  first: SqlStatement,
  sql: string,
  params?: readonly unknown[],
): Promise<PipelineResult> {
  const pgClient = client as PgLikeClient;
  if (mayCommitInside(sql)) {
    // A procedure or DO block may COMMIT, which would end the binding's transaction: it runs in a
    // transaction block, where PostgreSQL refuses that COMMIT (2D000) and nothing is kept.
    if (canPipeline(client)) {
      try {
        const results = await pipelineQuery(client, [
          { sql: 'BEGIN' },
          first,
          { sql, params: params ?? [] },
          { sql: 'COMMIT' },
        ]);
        return results[2] as PipelineResult;
      } catch (error) {
        await pgClient.query('ROLLBACK').catch(() => undefined);
        if (cannotBeWrapped(error) !== 'multi-statement' || (params?.length ?? 0) > 0) throw error;
      }
    }
    return pgTransaction(
      pgClient,
      async () => lastResult(await pgClient.query(sql, params as unknown[])) as never,
      {
        start: first,
      },
    );
  }
  if (canPipeline(client)) {
    try {
      const results = await pipelineQuery(client, [first, { sql, params: params ?? [] }]);
      return results[results.length - 1] as PipelineResult;
    } catch (error) {
      const reason = cannotBeWrapped(error);
      if (reason === 'no-transaction-block') return (await pgClient.query(sql, params as unknown[])) as never;
      if (reason !== 'multi-statement' || (params?.length ?? 0) > 0) throw error;
    }
  }
  return pgTransaction(
    pgClient,
    async () => lastResult(await pgClient.query(sql, params as unknown[])) as never,
    {
      start: first,
    },
  );
}

async function pgQueryAfter<R>(
  client: PgLikeClient,
  first: SqlStatement,
  sql: string,
  params?: readonly unknown[],
): Promise<SqlResult<R>> {
  const result = await pgAttributedQuery(client, first, sql, params);
  return { rows: (result.rows ?? []) as R[], rowCount: result.rowCount ?? null };
}

async function withPoolClient<T>(pool: PgLikePool, fn: (client: PgLikeClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // node-postgres emits 'error' on a checked-out client whose connection breaks (a terminated
  // backend, a server restart) and the pool listens only while the client is idle: with no
  // listener here that event would crash the process. The statement in flight fails with the
  // driver's own error; the client goes back as broken, so the pool replaces it.
  const onError = (error: Error) => {
    broken ??= error;
  };
  client.on?.('error', onError);
  try {
    return await fn(client);
  } catch (error) {
    if (isConnectionError(error)) broken ??= error as Error;
    throw error;
  } finally {
    client.removeListener?.('error', onError);
    client.release(broken);
  }
}

/** Normalize a node-postgres Pool or Client, a PGlite instance or a SqlClient. */
export function toSqlClient(db: unknown): SqlClient {
  if (isSqlClient(db)) return db;
  if (isPgPool(db)) {
    return {
      kind: 'pg-pool',
      pgPool: db,
      query: (sql, params) => pgSession(db).query(sql, params),
      transaction: (fn, hooks) => withPoolClient(db, (client) => pgTransaction(client, fn, hooks)),
      queryAfter: (first, sql, params) =>
        withPoolClient(db, (client) => pgQueryAfter(client, first, sql, params)),
      async exec(sql) {
        await db.query(sql);
      },
    };
  }
  if (isPgClient(db)) {
    // One queue per Client object, shared by every Threadline instance and adapter using it.
    const queue = queueOf(db);
    return {
      kind: 'pg-client',
      connection: db,
      query: (sql, params) => queue.run(() => pgSession(db).query(sql, params)),
      transaction: (fn, hooks) => queue.run((hold) => pgTransaction(db, fn, hooks, hold)),
      queryAfter: (first, sql, params) => queue.run(() => pgQueryAfter(db, first, sql, params)),
      exec: (sql) => queue.run(() => pgSession(db).exec(sql)),
    };
  }
  if (isPgLite(db)) {
    const session = (target: Pick<PgLiteLike, 'query' | 'exec'>): SqlSession => ({
      async query<R>(sql: string, params?: readonly unknown[]) {
        // PGlite's query runs one statement (a prepared statement); a script of several without
        // parameters runs through exec, as node-postgres runs it, resolving with its last result.
        // Decided before sending: inside a transaction a refused statement would abort it.
        const res =
          (params?.length ?? 0) === 0 && isScript(sql)
            ? ((await target.exec(sql)).at(-1) ?? { rows: [] })
            : await target.query(sql, params as unknown[] | undefined);
        return { rows: res.rows as R[], rowCount: res.affectedRows ?? res.rows.length };
      },
      async exec(sql: string) {
        await target.exec(sql);
      },
    });
    return {
      kind: 'pglite',
      query: (sql, params) => session(db).query(sql, params),
      transaction: (fn, hooks = {}) =>
        db.transaction(async (tx) => {
          if (hooks.start) await tx.query(hooks.start.sql, hooks.start.params as unknown[] | undefined);
          const result = await fn(session(tx));
          if (hooks.finish)
            hooks.finish.rows((await tx.query(hooks.finish.sql)).rows as Record<string, unknown>[]);
          return result;
        }),
      queryAfter: (first, sql, params) =>
        db.transaction(async (tx) => {
          await tx.query(first.sql, first.params as unknown[] | undefined);
          return session(tx).query(sql, params);
        }),
      async exec(sql) {
        await db.exec(sql);
      },
    };
  }
  throw new ThreadlineError(
    'UNSUPPORTED_CLIENT',
    'createThreadline: db must be a node-postgres Pool or Client, a PGlite instance, or an object implementing SqlClient (kind, query, exec, transaction, queryAfter)',
  );
}

export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string') {
    const message = String((error as { message?: unknown })?.message ?? '');
    return /Connection terminated|connection.*closed|Client has encountered a connection error/i.test(
      message,
    );
  }
  return (
    ['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EAI_AGAIN', 'EPIPE'].includes(
      code,
    ) ||
    code.startsWith('08') ||
    code === '57P01' ||
    code === '57P03' ||
    code === '28P01' ||
    code === '28000' ||
    code === '3D000'
  );
}
