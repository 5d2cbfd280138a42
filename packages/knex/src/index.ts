import {
  applyPatches,
  bindAuditContext,
  claimConnection,
  missingMethod,
  readInstance,
  readThreadlineOption,
  runAttributedStatement,
  type SqlSession,
  type Threadline,
  ThreadlineError,
  unpatchable,
} from '@threadline/core/adapter';
import type { Knex } from 'knex';
import { toKnexRaw } from './raw-sql.js';

export interface AttachThreadlineOptions {
  /** The Threadline instance whose recordAction/query calls join the knex transactions. */
  threadline: Threadline;
}

type QueryObject = string | { sql: string; bindings?: readonly unknown[] };
/** The parts of knex's dialect client and Transaction this adapter hooks (stable across knex 2 and 3). */
interface KnexClient {
  transacting?: boolean;
  dialect?: string;
  query(connection: unknown, obj: QueryObject): Promise<unknown>;
  stream(connection: unknown, obj: QueryObject, stream: StreamLike, options: unknown): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
  transaction(container: unknown, config: unknown, outerTx: unknown): KnexTransaction;
}
interface KnexTransaction {
  trxClient: KnexClient;
  begin(connection: unknown): Promise<unknown>;
  rollback(connection: unknown, error: unknown): Promise<unknown>;
  isCompleted(): boolean;
  _resolver?: (value?: unknown) => void;
  _rejecter?: (error?: unknown) => void;
}
interface StreamLike {
  once(event: 'close', listener: () => void): unknown;
  emit(event: string, ...args: unknown[]): boolean;
  end(...args: unknown[]): unknown;
  destroy(error?: unknown): unknown;
}
const ATTACHED = Symbol.for('threadline.knex.attached');
const ATTACH = 'attachThreadline(knex, { threadline })';
const KNEX_EXPECTED = "knex must be a knex instance with client: 'pg' (knex({ client: 'pg', connection }))";

/** `$1`-style SQL and parameters as a knex.raw call (literal `?` escaped). */
/**
 * What attachThreadline reads and replaces on knex's client, checked before anything is patched:
 * a reason when something is missing or cannot be replaced (a frozen client).
 */
function checkClient(client: unknown): string | undefined {
  if (typeof client !== 'object' || client === null) return 'it has no client';
  const { dialect } = client as { dialect?: unknown };
  if (dialect !== 'postgresql')
    return `its client's dialect is ${typeof dialect === 'string' ? `"${dialect.slice(0, 40)}"` : typeof dialect}`;
  const methods = ['transaction', 'query', 'stream', 'releaseConnection'];
  return (
    missingMethod(client, methods, 'knex.client') ??
    unpatchable(client, [...methods, ATTACHED], 'knex.client')
  );
}

/**
 * A Threadline SqlSession on a knex transaction, e.g.
 * `tl.recordAction('x', { session: threadlineSession(trx) })` for a transaction from
 * `knex.transaction()` without a callback or from `transactionProvider()` (inside
 * `knex.transaction(async (trx) => ...)` this is automatic).
 */
export function threadlineSession(trx: Knex.Transaction): SqlSession {
  readInstance(trx, 'threadlineSession', 'pass a knex transaction (trx)', (t, refuse) => {
    const missing = missingMethod(t, ['raw'], 'trx');
    if (missing) refuse(missing);
  });
  return {
    async query<R>(sql: string, params?: readonly unknown[]) {
      const res = (await trx.raw(...toKnexRaw(sql, params))) as { rows?: R[]; rowCount?: number | null };
      return { rows: res.rows ?? [], rowCount: res.rowCount ?? null };
    },
    async exec(sql: string) {
      await trx.raw(sql.replace(/\?/g, '\\?'));
    },
  };
}

/**
 * Attach Threadline to a knex instance (client `pg`), in place, and return it. Every transaction
 * it opens binds the active audit context right after BEGIN (nested transactions are savepoints
 * and do not bind again); a write sent outside any transaction while a context is active runs in
 * a short transaction that binds first; inside `knex.transaction(cb)`, tl.recordAction and
 * tl.query join that transaction.
 */
export function attachThreadline<K extends Knex>(knex: K, options: AttachThreadlineOptions): K {
  const tl = readThreadlineOption<Threadline>(options, ATTACH);
  const client = readInstance(knex, ATTACH, KNEX_EXPECTED, (k, refuse) => {
    const found = (k as { client?: unknown }).client;
    const missing = checkClient(found);
    return missing ? refuse(missing) : (found as KnexClient & Record<symbol, Threadline>);
  });
  if (client[ATTACHED]) {
    if (client[ATTACHED] === tl) return knex;
    throw new ThreadlineError('CONFIG_INVALID', 'attachThreadline: this knex instance is already attached');
  }
  const { transaction, query, stream } = client;
  // Built first, then put on the client all at once (applyPatches): a client that refuses one is
  // left as it was, not half-hooked and marked attached.
  const patches: Partial<KnexClient> & Record<symbol, Threadline> = {};

  // knex's statements in a transaction (its own client object, not this one) take the turn of the
  // scope they are sent from: they wait while a nested tl.transaction is open, whose ROLLBACK TO
  // would otherwise undo them after they reported success.
  const turns = new WeakSet<object>();
  const inScopeTurns = (trxClient: KnexClient) => {
    if (turns.has(trxClient)) return;
    turns.add(trxClient);
    const { query: send, stream: sendStream } = trxClient;
    trxClient.query = (connection, obj) => tl.runOrmStatement(() => send.call(trxClient, connection, obj));
    trxClient.stream = (connection, obj, target, options) =>
      tl.runOrmStatement(() => sendStream.call(trxClient, connection, obj, target, options));
  };

  patches.transaction = function (this: KnexClient, container, config, outerTx) {
    const wrapped =
      typeof container === 'function'
        ? (trx: Knex.Transaction) => {
            inScopeTurns(trx.client as unknown as KnexClient);
            return tl.runInSession(threadlineSession(trx), () => container(trx));
          }
        : container;
    const trx = transaction.call(this, wrapped, config, outerTx);
    if (this.transacting || outerTx) return trx;
    // knex calls begin() after this returns (once a connection is acquired).
    const begin = trx.begin;
    trx.begin = async (connection) => {
      // The connection is this transaction's until it ends: a statement of another caller that
      // knex hands the same connection (its double release after .stream()) is refused rather
      // than joining it, and a connection already in a transaction is not used.
      const release = claimConnection(connection as object, 'knex.transaction');
      try {
        const result = await begin.call(trx, connection);
        const { _resolver: resolve, _rejecter: reject } = trx;
        trx._resolver = (value) => {
          release();
          resolve?.(value);
        };
        trx._rejecter = (error) => {
          release();
          reject?.(error);
        };
        if (trx.isCompleted()) {
          release();
          return result;
        }
        await bindAuditContext((sql, bindings) => trx.trxClient.query(connection, { sql, bindings }));
        return result;
      } catch (error) {
        release();
        if (!trx.isCompleted()) await trx.rollback(connection, error);
        throw error;
      }
    };
    return trx;
  };

  // Outside knex transactions, every statement (query builder, raw, stream) goes through core's
  // runAttributedStatement: attributed by the same rule as tl.query, in one round trip.
  const outside = (
    client: KnexClient,
    connection: unknown,
    obj: QueryObject,
    send: (target: object) => Promise<unknown>,
    pipelinable = true,
  ) =>
    runAttributedStatement({
      sql: typeof obj === 'string' ? obj : obj.sql,
      connection: connection as object,
      send,
      run: (sql, bindings) => query.call(client, connection, { sql, bindings: bindings ?? [] }),
      pipelinable,
    });

  patches.query = function (this: KnexClient, connection, obj) {
    if (this.transacting) return query.call(this, connection, obj);
    return outside(this, connection, obj, (target) => query.call(this, target, obj));
  };
  // A stream's statement runs between BEGIN + binding and COMMIT (a cursor cannot share a
  // pipeline). knex gives the connection back when the stream closes, which can be before that
  // COMMIT: the release waits for it, so no other caller's statement joins the transaction.
  const streaming = new WeakMap<object, Promise<unknown>>();
  const { releaseConnection } = client;
  patches.stream = function (this: KnexClient, connection, obj, target, options) {
    ignoreReleaseOnClose(target, connection as object);
    if (this.transacting) return stream.call(this, connection, obj, target, options);
    let sent = false;
    // The consumer sees the end of the stream once the statement's transaction committed; the
    // statement is done when the rows ended (knex 2 waits for the stream's own 'end' instead).
    let rowsEnded: () => void = () => undefined;
    const ended = new Promise<void>((resolve) => {
      rowsEnded = resolve;
    });
    const end = target.end;
    target.end = (...args: unknown[]) => {
      rowsEnded();
      done.then(
        () => end.apply(target, args),
        (error: unknown) => target.destroy(error),
      );
      return target;
    };
    const done: Promise<unknown> = outside(
      this,
      connection,
      obj,
      (conn) =>
        new Promise((resolve, reject) => {
          sent = true;
          stream.call(this, conn, obj, target, options).then(resolve, reject);
          void ended.then(() => resolve(undefined));
          // A consumer that stops early destroys the stream: knex's promise never settles then.
          target.once('close', () => resolve(undefined));
        }),
      false,
    );
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    streaming.set(connection as object, settled);
    void settled.then(() => {
      if (streaming.get(connection as object) === settled) streaming.delete(connection as object);
    });
    return done.catch((error: unknown) => {
      // knex reports errors on the stream only once the query ran; a refusal comes before.
      if (!sent) target.emit('error', error);
      throw error;
    });
  };
  // knex's runner releases a streamed connection twice: once where it acquired it (after the
  // statement) and once more from the stream's 'close' event, even when the connection is a
  // transaction's or one the application holds (.connection()). Between the two, the pool can
  // hand the connection to another caller, whose transaction the second release then gives away
  // again: two callers on one connection, refused as FOREIGN_TRANSACTION at best. The release
  // from 'close' is never the owner's, so it is dropped; whoever acquired the connection
  // releases it.
  const closing = new Map<object, number>();
  const ignoreReleaseOnClose = (target: StreamLike, connection: object) => {
    const emit = target.emit;
    target.emit = function (this: StreamLike, event: string, ...args: unknown[]) {
      if (event !== 'close') return emit.call(this, event, ...args);
      closing.set(connection, (closing.get(connection) ?? 0) + 1);
      try {
        return emit.call(this, event, ...args);
      } finally {
        const n = (closing.get(connection) ?? 1) - 1;
        if (n > 0) closing.set(connection, n);
        else closing.delete(connection);
      }
    };
  };
  patches.releaseConnection = function (this: KnexClient, connection) {
    if (closing.has(connection as object)) return Promise.resolve();
    const pending = streaming.get(connection as object);
    if (!pending) return releaseConnection.call(this, connection);
    return pending.then(() => releaseConnection.call(this, connection));
  };
  patches[ATTACHED] = tl;
  applyPatches([[client, patches]], ATTACH, KNEX_EXPECTED);
  return knex;
}
