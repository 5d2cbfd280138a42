import {
  bindAuditContext,
  runAttributedStatement,
  type SqlSession,
  type Threadline,
  ThreadlineError,
} from '@threadline/core/adapter';
import type { Knex } from 'knex';

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
  transaction(container: unknown, config: unknown, outerTx: unknown): KnexTransaction;
}
interface KnexTransaction {
  trxClient: KnexClient;
  begin(connection: unknown): Promise<unknown>;
  rollback(connection: unknown, error: unknown): Promise<unknown>;
  isCompleted(): boolean;
}
const ATTACHED = Symbol.for('threadline.knex.attached');

/** `$1`-style SQL and parameters as a knex.raw call (literal `?` escaped). */
function toKnexRaw(sql: string, params: readonly unknown[] = []): [string, Knex.RawBinding[]] {
  const bindings: Knex.RawBinding[] = [];
  const text = sql.replace(/\?/g, '\\?').replace(/\$(\d+)/g, (_m, n: string) => {
    bindings.push(params[Number(n) - 1] as Knex.RawBinding);
    return '?';
  });
  return [text, bindings];
}

/**
 * A Threadline SqlSession on a knex transaction, e.g.
 * `tl.recordAction('x', { session: threadlineSession(trx) })` for a transaction from
 * `knex.transaction()` without a callback or from `transactionProvider()` (inside
 * `knex.transaction(async (trx) => ...)` this is automatic).
 */
export function threadlineSession(trx: Knex.Transaction): SqlSession {
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
  const tl = options?.threadline;
  if (!tl || typeof tl.runInSession !== 'function') {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      'attachThreadline(knex, { threadline }): pass the instance from createThreadline({ db })',
    );
  }
  const client = knex?.client as (KnexClient & Record<symbol, Threadline>) | undefined;
  if (client?.dialect !== 'postgresql') {
    throw new ThreadlineError('CONFIG_INVALID', "attachThreadline: pass a knex instance with client: 'pg'");
  }
  if (client[ATTACHED]) {
    if (client[ATTACHED] === tl) return knex;
    throw new ThreadlineError('CONFIG_INVALID', 'attachThreadline: this knex instance is already attached');
  }
  client[ATTACHED] = tl;
  const { transaction, query } = client;

  client.transaction = function (this: KnexClient, container, config, outerTx) {
    const wrapped =
      typeof container === 'function'
        ? (trx: Knex.Transaction) => tl.runInSession(threadlineSession(trx), () => container(trx))
        : container;
    const trx = transaction.call(this, wrapped, config, outerTx);
    if (this.transacting || outerTx) return trx;
    // knex calls begin() after this returns (once a connection is acquired).
    const begin = trx.begin;
    trx.begin = async (connection) => {
      const result = await begin.call(trx, connection);
      if (trx.isCompleted()) return result;
      try {
        await bindAuditContext((sql, bindings) => trx.trxClient.query(connection, { sql, bindings }));
      } catch (error) {
        await trx.rollback(connection, error);
        throw error;
      }
      return result;
    };
    return trx;
  };

  client.query = function (this: KnexClient, connection, obj) {
    if (this.transacting) return query.call(this, connection, obj);
    return runAttributedStatement(
      typeof obj === 'string' ? obj : obj.sql,
      (sql, bindings) => query.call(this, connection, { sql, bindings: bindings ?? [] }),
      () => query.call(this, connection, obj),
      connection,
    );
  };
  return knex;
}
