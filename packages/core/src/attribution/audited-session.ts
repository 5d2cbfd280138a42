import { AsyncLocalStorage } from 'node:async_hooks';
import { contextBinding } from '../context/binding.js';
import { sessionStoreOf } from '../db/serial-queue.js';
import type { SqlClient, SqlResult, SqlSession } from '../db/sql-client.js';
import { ThreadlineError } from '../errors.js';
import { readList } from '../plain-input.js';
import { auditIdFrom, FINISH_SQL, SessionScope, sendAsCore } from './session-scope.js';
import {
  embeddedCommitRefused,
  needsAttribution,
  scriptControlRefused,
  scriptTransactionControl,
  transactionControl,
} from './statement-rules.js';

export interface TransactionResult<T> {
  result: T;
  /** The audit transaction this database transaction created, or null when it captured nothing. */
  auditTransactionId: string | null;
}

function sqlText(sql: unknown, where: string): string {
  if (typeof sql !== 'string')
    throw new ThreadlineError('QUERY_INVALID', `${where}: sql must be a string, got ${typeof sql}`);
  return sql;
}

/** A statement's text and parameters as given to tl.query or a transaction's session, checked. */
function statement(sql: unknown, params: unknown, where: string): { sql: string; params?: unknown[] } {
  return { sql: sqlText(sql, where), params: readList(params, `${where}: params`) };
}

function refuseTransactionControl(sql: string, where: string, inTransaction = false): void {
  if (inTransaction && scriptTransactionControl(sql) !== 'none') {
    throw new ThreadlineError(
      'TRANSACTION_CONTROL',
      `${where}: a script with BEGIN, COMMIT or ROLLBACK inside a transaction would end that transaction half-way; drop them (nested work: tl.transaction makes a savepoint)`,
    );
  }
  const control = scriptTransactionControl(sql) === 'none' ? transactionControl(sql) : null;
  if (control === 'begin' || control === 'end') {
    throw new ThreadlineError(
      'TRANSACTION_CONTROL',
      `${where}: BEGIN, COMMIT and ROLLBACK cannot be sent as statements (the connection would go back to the pool, or to another caller, mid-transaction); use tl.transaction(async (tx) => ...) instead`,
    );
  }
}

/**
 * The session handed to a transaction's callback: refuses to run once the callback settled
 * (the connection may already belong to someone else) and refuses transaction control.
 */
function guardedSession(inner: SqlSession, closed: () => boolean, where: string): SqlSession {
  const check = (sql: unknown) => {
    if (closed()) {
      throw new ThreadlineError(
        'TRANSACTION_CLOSED',
        `${where}: this transaction has already finished, so its session is closed; work that runs after the callback returned (a timer, an unawaited promise) must use tl.query or tl.transaction, which open their own attributed transaction`,
      );
    }
    refuseTransactionControl(sqlText(sql, where), where, true);
  };
  return {
    async query<R>(text: string, given?: readonly unknown[]) {
      check(text);
      const { sql, params } = statement(text, given, where);
      return sendAsCore(() => inner.query<R>(sql, params));
    },
    async exec(sql: string) {
      check(sql);
      return sendAsCore(() => inner.exec(sql));
    },
  };
}

/**
 * tl.transaction, tl.query and tl.runInSession: which transaction the current async context is
 * in, and how a statement sent outside one is attributed.
 */
export class AuditedSessions {
  /** Shared by every instance on one Client (sessionStoreOf), else this instance's own. */
  private readonly active: AsyncLocalStorage<unknown>;

  constructor(private readonly client: SqlClient) {
    this.active = client.connection
      ? sessionStoreOf<unknown>(client.connection)
      : new AsyncLocalStorage<unknown>();
  }

  /** The transaction the current async context is in, unless its callback already settled. */
  current(): SessionScope | undefined {
    return SessionScope.of(this.active.getStore(), this.active);
  }

  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<TransactionResult<T>> {
    if (typeof fn !== 'function')
      throw new ThreadlineError(
        'QUERY_INVALID',
        `tl.transaction: pass a function, e.g. tl.transaction(async (tx) => ...), got ${typeof fn}`,
      );
    const current = this.current();
    if (current) return current.nested(fn);
    let auditTransactionId: string | null = null;
    const binding = contextBinding();
    const result = await this.client.transaction(
      (session, callbackSettled) => this.runOwned(session, 'tl.transaction', fn, callbackSettled),
      {
        ...(binding ? { start: binding } : {}),
        finish: { sql: FINISH_SQL, rows: (rows) => (auditTransactionId = auditIdFrom(rows[0])) },
      },
    );
    return { result, auditTransactionId };
  }

  async query<R>(text: string, given?: readonly unknown[]): Promise<SqlResult<R>> {
    const { sql, params } = statement(text, given, 'tl.query');
    refuseTransactionControl(sql, 'tl.query');
    const current = this.current();
    if (current) return current.session.query<R>(sql, params);
    const binding = needsAttribution(sql) ? contextBinding() : null;
    const script = scriptTransactionControl(sql);
    if (script !== 'none' && (binding || script === 'open'))
      throw scriptControlRefused('tl.query', !!binding);
    if (!binding) return this.client.query<R>(sql, params);
    try {
      return await this.client.queryAfter<R>(binding, sql, params);
    } catch (error) {
      throw embeddedCommitRefused(error, 'tl.query');
    }
  }

  /**
   * An ORM's own statement on the transaction it opened: waits while a nested tl.transaction of
   * the current scope is open (SessionScope.statement); any other statement is sent at once.
   */
  ormStatement<T>(send: () => Promise<T>): Promise<T> {
    const scope = this.current();
    return typeof scope?.statement === 'function' ? scope.statement(send) : send();
  }

  /** Run `fn` with `session` as the current transaction until `fn` settles. */
  runInSession<T>(session: SqlSession, fn: () => T): T {
    const state = this.rootScope(session, 'runInSession', true);
    let result: T;
    try {
      result = this.active.run(state, fn);
    } catch (error) {
      void state.close();
      throw error;
    }
    if (result instanceof Promise) {
      // Settles once the nested transactions `fn` left running did, so the caller's COMMIT
      // never runs while one of their savepoints is open.
      return result.finally(() => state.close()) as T;
    }
    void state.close();
    return result;
  }

  private rootScope(session: SqlSession, where: string, orm = false): SessionScope {
    return SessionScope.root((closed) => guardedSession(session, closed, where), this.active, orm);
  }

  private async runOwned<T>(
    session: SqlSession,
    where: string,
    fn: (tx: SqlSession) => Promise<T>,
    callbackSettled?: () => void,
  ) {
    const state = this.rootScope(session, where);
    try {
      return await this.active.run(state, () => fn(state.session));
    } finally {
      // From here, left-behind work neither joins this transaction nor counts as its holder on
      // a shared Client (it queues behind the COMMIT); nested transactions it left running
      // finish (all or nothing) before the COMMIT or ROLLBACK.
      const closing = state.close();
      callbackSettled?.();
      await closing;
    }
  }
}
