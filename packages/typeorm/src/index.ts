import {
  bindAuditContext,
  runAttributedStatement,
  type SqlSession,
  type Threadline,
  ThreadlineError,
} from '@threadline/core/adapter';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

export interface AttachThreadlineOptions {
  /** The Threadline instance whose recordAction/query calls join the ORM's transactions. */
  threadline: Threadline;
}

interface Runner {
  readonly isTransactionActive: boolean;
  startTransaction(isolationLevel?: string): Promise<void>;
  rollbackTransaction(): Promise<void>;
  query(sql: string, params?: readonly unknown[], structured?: boolean): Promise<unknown>;
}
type TransactionFn = (...args: unknown[]) => Promise<unknown>;
const ATTACHED = Symbol.for('threadline.typeorm.attached');

/**
 * A Threadline SqlSession on a TypeORM query runner or entity manager, e.g.
 * `tl.recordAction('x', { session: threadlineSession(manager) })` in a transaction you opened
 * with `queryRunner.startTransaction()` (inside `dataSource.transaction` this is automatic).
 */
export function threadlineSession(target: QueryRunner | EntityManager): SqlSession {
  const runner = ('connect' in target ? target : target.queryRunner) as Runner | undefined;
  if (!runner) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      'threadlineSession: this EntityManager has no query runner; pass the manager given to your transaction callback or a QueryRunner',
    );
  }
  return {
    async query<R>(sql: string, params?: readonly unknown[]) {
      const res = (await runner.query(sql, params, true)) as { records: R[]; affected?: number };
      return { rows: res.records ?? [], rowCount: res.affected ?? null };
    },
    async exec(sql: string) {
      await runner.query(sql);
    },
  };
}

/**
 * Attach Threadline to a TypeORM DataSource (before or after initialize()). Every transaction
 * it opens binds the active audit context as its first statement (once; savepoints do not bind
 * again); a write sent outside any transaction while a context is active runs in a short
 * transaction that binds first; inside `transaction(cb)` callbacks, tl.recordAction and tl.query
 * join the ORM's transaction. Returns the same DataSource.
 */
export function attachThreadline<D extends DataSource>(dataSource: D, options: AttachThreadlineOptions): D {
  const tl = options?.threadline;
  if (!tl || typeof tl.runInSession !== 'function') {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      'attachThreadline(dataSource, { threadline }): pass the instance from createThreadline({ db })',
    );
  }
  if (dataSource?.options?.type !== 'postgres') {
    throw new ThreadlineError('CONFIG_INVALID', "attachThreadline: pass a DataSource with type: 'postgres'");
  }
  const state = dataSource as unknown as Record<symbol, Threadline>;
  if (state[ATTACHED]) {
    if (state[ATTACHED] === tl) return dataSource;
    throw new ThreadlineError('CONFIG_INVALID', 'attachThreadline: this DataSource is already attached');
  }
  state[ATTACHED] = tl;

  const wrapTransactions = (manager: EntityManager) => {
    const transaction = manager.transaction as unknown as TransactionFn;
    (manager as unknown as { transaction: TransactionFn }).transaction = function (this: unknown, ...args) {
      const at = typeof args[0] === 'function' ? 0 : 1;
      const fn = args[at];
      if (typeof fn === 'function') {
        args[at] = (m: EntityManager) => tl.runInSession(threadlineSession(m), () => fn(m));
      }
      return transaction.apply(this, args);
    };
  };

  const instrument = (runner: QueryRunner) => {
    const r = runner as unknown as Runner;
    const { startTransaction, query } = r;
    r.startTransaction = async function (this: Runner, isolationLevel) {
      const opening = !this.isTransactionActive;
      await startTransaction.call(this, isolationLevel);
      if (!opening) return;
      try {
        await bindAuditContext((sql, params) => query.call(this, sql, params));
      } catch (error) {
        await this.rollbackTransaction().catch(() => undefined);
        throw error;
      }
    };
    r.query = function (this: Runner, sql, params, structured) {
      if (this.isTransactionActive) return query.call(this, sql, params, structured);
      return runAttributedStatement(
        sql,
        (s, p) => query.call(this, s, p),
        () => query.call(this, sql, params, structured),
        (this as { databaseConnection?: unknown }).databaseConnection,
      );
    };
    wrapTransactions(runner.manager);
    return runner;
  };

  const createQueryRunner = dataSource.createQueryRunner;
  dataSource.createQueryRunner = function (this: DataSource, ...args) {
    return instrument(createQueryRunner.apply(this, args));
  };
  wrapTransactions(dataSource.manager);
  return dataSource;
}
