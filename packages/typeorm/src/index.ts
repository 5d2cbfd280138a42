import {
  applyPatches,
  bindAuditContext,
  missingMethod,
  readInstance,
  readThreadlineOption,
  runAttributedStatement,
  type SqlSession,
  type Threadline,
  ThreadlineError,
  unpatchable,
} from '@threadline/core/adapter';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { attributedStream, type StreamFn, settleStream } from './stream.js';

export interface AttachThreadlineOptions {
  /** The Threadline instance whose recordAction/query calls join the ORM's transactions. */
  threadline: Threadline;
}

interface Runner {
  readonly isTransactionActive: boolean;
  readonly isReleased: boolean;
  databaseConnection: object | undefined;
  connect(): Promise<object>;
  startTransaction(isolationLevel?: string): Promise<void>;
  rollbackTransaction(): Promise<void>;
  query(sql: string, params?: readonly unknown[], structured?: boolean): Promise<unknown>;
  stream: StreamFn;
  release(): Promise<void>;
}
type TransactionFn = (...args: unknown[]) => Promise<unknown>;
const ATTACHED = Symbol.for('threadline.typeorm.attached');
const ATTACH = 'attachThreadline(dataSource, { threadline })';
const DATA_SOURCE_EXPECTED =
  "dataSource must be a TypeORM DataSource with type: 'postgres' (new DataSource({ type: 'postgres', ... }))";
/**
 * Where a runner's startTransaction() is before its binding is sent: `opening` until TypeORM sent
 * START TRANSACTION (a beforeTransactionStart subscriber's write still runs outside), `started`
 * until the first statement after it (SET TRANSACTION aside), which the binding then precedes,
 * so an afterTransactionStart subscriber's write is attributed too.
 */
const BIND_STATE = Symbol('threadline.typeorm.bind');
/** Runners that dataSource.query() creates for one statement and releases: never a BEGIN there. */
const ONE_SHOT = Symbol('threadline.typeorm.oneShot');
type InstrumentedRunner = Runner & { [BIND_STATE]?: 'opening' | 'started'; [ONE_SHOT]?: boolean };

/**
 * A Threadline SqlSession on a TypeORM query runner or entity manager, e.g.
 * `tl.recordAction('x', { session: threadlineSession(manager) })` in a transaction you opened
 * with `queryRunner.startTransaction()` (inside `dataSource.transaction` this is automatic).
 */
export function threadlineSession(target: QueryRunner | EntityManager): SqlSession {
  const runner = readInstance(
    target,
    'threadlineSession',
    'pass a TypeORM QueryRunner, or the EntityManager given to your transaction callback',
    (t, refuse) => {
      const found = ('connect' in t ? t : (t as EntityManager).queryRunner) as Runner | undefined;
      if (found === undefined || found === null)
        return refuse(
          'this EntityManager has no query runner; pass the manager given to your transaction callback or a QueryRunner',
        );
      const missing = missingMethod(found, ['query'], 'the query runner');
      return missing ? refuse(missing) : found;
    },
  );
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
  const tl = readThreadlineOption<Threadline>(options, ATTACH);
  readInstance(dataSource, ATTACH, DATA_SOURCE_EXPECTED, (ds, refuse) => {
    const missing = checkDataSource(ds);
    if (missing) refuse(missing);
  });
  const state = dataSource as unknown as Record<symbol, Threadline>;
  if (state[ATTACHED]) {
    if (state[ATTACHED] === tl) return dataSource;
    throw new ThreadlineError('CONFIG_INVALID', 'attachThreadline: this DataSource is already attached');
  }

  /** `manager.transaction` whose callback runs in the manager's audited session. */
  const auditedTransactions = (manager: EntityManager): TransactionFn => {
    const transaction = manager.transaction as unknown as TransactionFn;
    return function (this: unknown, ...args) {
      const at = typeof args[0] === 'function' ? 0 : 1;
      const fn = args[at];
      if (typeof fn === 'function') {
        args[at] = (m: EntityManager) => tl.runInSession(threadlineSession(m), () => fn(m));
      }
      return transaction.apply(this, args);
    };
  };
  const wrapTransactions = (manager: EntityManager) => {
    (manager as unknown as { transaction: TransactionFn }).transaction = auditedTransactions(manager);
  };

  const instrument = (runner: QueryRunner) => {
    const r = runner as unknown as InstrumentedRunner;
    const { startTransaction, query } = r;
    const bind = (self: Runner) => bindAuditContext((sql, params) => query.call(self, sql, params));
    r.startTransaction = async function (this: InstrumentedRunner, isolationLevel) {
      const opening = !this.isTransactionActive;
      if (opening) this[BIND_STATE] = 'opening';
      try {
        await startTransaction.call(this, isolationLevel);
      } catch (error) {
        this[BIND_STATE] = undefined;
        throw error;
      }
      if (!opening || this[BIND_STATE] === undefined) return;
      this[BIND_STATE] = undefined;
      try {
        await bind(this);
      } catch (error) {
        await this.rollbackTransaction().catch(() => undefined);
        throw error;
      }
    };
    // The first statement after START TRANSACTION (SET TRANSACTION aside) is preceded by the binding.
    const bindBefore = async (self: InstrumentedRunner, sql: string) => {
      if (self[BIND_STATE] === 'started' && !/^\s*set\s+transaction\b/i.test(sql)) {
        self[BIND_STATE] = undefined;
        await bind(self);
      }
    };
    r.query = async function (this: InstrumentedRunner, sql, params, structured) {
      const state = this[BIND_STATE];
      if (this.isTransactionActive && state !== 'opening') {
        // Takes the turn of the scope it is sent from: waits while a nested tl.transaction is
        // open, whose ROLLBACK TO would otherwise undo it.
        return tl.runOrmStatement(async () => {
          await bindBefore(this, sql);
          return query.call(this, sql, params, structured);
        });
      }
      if (state === 'opening' && /^\s*start\s+transaction\b/i.test(sql)) {
        const result = await query.call(this, sql, params, structured);
        this[BIND_STATE] = 'started';
        return result;
      }
      if (this.isReleased) return query.call(this, sql, params, structured);
      const connection = await this.connect();
      return runAttributedStatement({
        sql,
        connection,
        handle: this,
        transactionControl: this[ONE_SHOT] ? 'refuse' : 'follow',
        send: (target) =>
          target === connection
            ? query.call(this, sql, params, structured)
            : onConnection(this, target, () => query.call(this, sql, params, structured)),
        run: (s, p) => query.call(this, s, p),
      });
    };
    const { stream } = r;
    r.stream = async function (this: InstrumentedRunner, sql, params, onEnd, onError) {
      if (this.isTransactionActive && this[BIND_STATE] !== 'opening') {
        return tl.runOrmStatement(async () => {
          await bindBefore(this, sql);
          return stream.call(this, sql, params, onEnd, onError);
        });
      }
      if (this.isReleased) return stream.call(this, sql, params, onEnd, onError);
      const connection = await this.connect();
      return attributedStream(
        (...args) => stream.apply(this, args),
        connection,
        this,
        (s, p) => query.call(this, s, p),
        sql,
        params,
        onEnd,
        onError,
      );
    };
    const { release } = r;
    r.release = async function (this: InstrumentedRunner, ...args) {
      await settleStream(this);
      return release.apply(this, args);
    };
    wrapTransactions(runner.manager);
    return runner;
  };

  const createQueryRunner = dataSource.createQueryRunner;
  let nextIsOneShot = false;
  // dataSource.query(sql) without a runner creates one (synchronously, first thing) and releases it.
  const dataSourceQuery = dataSource.query as unknown as TransactionFn;
  // Put on the manager and the DataSource all at once (applyPatches): one that refuses a property
  // is left as it was, not half-hooked and marked attached.
  applyPatches(
    [
      [dataSource.manager, { transaction: auditedTransactions(dataSource.manager) }],
      [
        dataSource,
        {
          createQueryRunner(this: DataSource, ...args: Parameters<DataSource['createQueryRunner']>) {
            const runner = instrument(createQueryRunner.apply(this, args));
            (runner as unknown as InstrumentedRunner)[ONE_SHOT] = nextIsOneShot;
            nextIsOneShot = false;
            return runner;
          },
          query(this: unknown, ...args: unknown[]) {
            nextIsOneShot = args[2] === undefined;
            try {
              return dataSourceQuery.apply(this, args);
            } finally {
              nextIsOneShot = false;
            }
          },
          [ATTACHED]: tl,
        },
      ],
    ],
    ATTACH,
    DATA_SOURCE_EXPECTED,
  );
  return dataSource;
}

/**
 * What attachThreadline reads and replaces on a DataSource, checked before anything is patched:
 * a reason when something is missing or cannot be replaced (a frozen DataSource or manager).
 */
function checkDataSource(value: object): string | undefined {
  const ds = value as Record<string, unknown>;
  const options = ds.options as { type?: unknown } | undefined;
  if (typeof options !== 'object' || options === null) return 'it has no options';
  if (options.type !== 'postgres')
    return `its options.type is ${typeof options.type === 'string' ? `"${options.type.slice(0, 40)}"` : typeof options.type}`;
  const manager = ds.manager;
  if (typeof manager !== 'object' || manager === null) return 'it has no manager';
  return (
    missingMethod(ds, ['createQueryRunner', 'query'], 'dataSource') ??
    missingMethod(manager, ['transaction'], 'dataSource.manager') ??
    unpatchable(ds, ['createQueryRunner', 'query', ATTACHED], 'the DataSource') ??
    unpatchable(manager, ['transaction'], 'its manager')
  );
}

/** Run `fn` with `target` (a stand-in for the runner's pg client) as the runner's connection. */
async function onConnection<T>(runner: Runner, target: object, fn: () => Promise<T>): Promise<T> {
  const own = runner.databaseConnection;
  runner.databaseConnection = target;
  try {
    return await fn();
  } finally {
    runner.databaseConnection = own;
  }
}
