import { AsyncLocalStorage } from 'node:async_hooks';
import type { SqlResult, SqlSession } from '../db/sql-client.js';

const FINISH_SQL =
  "SELECT current_setting('threadline.transaction', true) AS tl, txid_current_if_assigned()::text AS xid";

/** The audit transaction id of a FINISH_SQL row, when this database transaction created one. */
function auditIdFrom(row: Record<string, unknown> | undefined): string | null {
  const tl = row?.tl;
  const xid = row?.xid;
  if (typeof tl !== 'string' || tl === '' || xid === null || xid === undefined) return null;
  // "txid:id:ctid" (runtime-functions.ts, current_transaction_id)
  const [txid, id] = tl.split(':');
  return txid === String(xid) && id ? id : null;
}

export { auditIdFrom, FINISH_SQL };

/** What every scope of one database transaction shares. */
interface ScopeRoot {
  /** The transaction's session, refusing once the root scope finished (settled its nested work). */
  raw: SqlSession;
  /** The same session refusing every statement: what work sent after every scope closed gets. */
  refused: SqlSession;
  /** Which scope each async context is in (shared per connection). */
  readonly store: AsyncLocalStorage<unknown>;
  savepoints: number;
  /** Opened by an ORM (runInSession): the ORM's own statements take this transaction's turns. */
  orm?: boolean;
}

/** Set while core sends on an ORM's session: the adapter's hook then sends it as is. */
const coreSending = new AsyncLocalStorage<boolean>();

/** Send `fn` on an ORM's session as core's own statement (never queued again by the adapter). */
export function sendAsCore<T>(fn: () => Promise<T>): Promise<T> {
  return coreSending.run(true, fn);
}

const done = () => undefined;

/** What an older copy of core keeps in the shared store: its session and whether it closed. */
interface LegacyActive {
  readonly session: SqlSession;
  readonly closed: boolean;
}
const adopted = new WeakMap<object, SessionScope>();

/**
 * One scope of a database transaction: the transaction itself, or one nested tl.transaction (a
 * savepoint) inside it. A savepoint's ROLLBACK TO undoes everything sent after its SAVEPOINT,
 * whoever sent it, so nothing but the savepoint's own work may run while it is open: the nested
 * transactions of one scope run one at a time, in call order (Promise.all of two nested
 * tl.transaction calls runs the second once the first released or rolled back its savepoint),
 * and the scope's own statements (through its session, tl.query, tl.recordAction, reads) wait
 * while one of its nested transactions is open. Work of the open nested transaction itself (its
 * async context) never waits for it.
 */
export class SessionScope {
  /** The session handed to this scope's callback (and used by tl.query inside it). */
  readonly session: SqlSession;
  /** Set once the scope's callback settled: its left-behind work then belongs to the parent. */
  closed = false;
  /** Set once a closed root scope's nested transactions left running settled (see close()). */
  private finished = false;
  /** Settles when every nested transaction and waiting statement queued on this scope finished. */
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(
    private readonly root: ScopeRoot,
    private readonly parent?: SessionScope,
  ) {
    const run = <T>(send: (raw: SqlSession) => Promise<T>) => {
      const scope = this.effective();
      // Every scope closed: refused with TRANSACTION_CLOSED (even while the root still waits
      // for nested transactions left running, which use root.raw themselves).
      return scope.closed ? send(root.refused) : scope.turn(() => send(root.raw), false);
    };
    this.session = {
      query: <R>(sql: string, params?: readonly unknown[]) =>
        run<SqlResult<R>>((raw) => raw.query<R>(sql, params)),
      exec: (sql: string) => run((raw) => raw.exec(sql)),
    };
  }

  /**
   * The outermost scope of a transaction: `guard(closed)` wraps its session so that it refuses
   * once `closed()` (the scope's callback settled).
   */
  static root(
    guard: (closed: () => boolean) => SqlSession,
    store: AsyncLocalStorage<unknown>,
    orm = false,
  ): SessionScope {
    const unset = undefined as unknown as SqlSession;
    const root: ScopeRoot = { raw: unset, refused: unset, store, savepoints: 0, orm };
    const scope = new SessionScope(root);
    root.raw = guard(() => scope.finished);
    root.refused = guard(() => true);
    return scope;
  }

  /**
   * The open scope `store` (what the shared store holds for an async context) stands for: a
   * scope of this or another loaded copy of core, or, from an older copy that keeps only
   * `{ session, closed }`, a scope adopted around that session (once per object, so its nested
   * transactions still take turns).
   */
  static of(store: unknown, als: AsyncLocalStorage<unknown>): SessionScope | undefined {
    if (typeof store !== 'object' || store === null) return undefined;
    const found = store as Partial<SessionScope> & Partial<LegacyActive>;
    if (typeof found.open === 'function' && typeof found.nested === 'function') return found.open();
    if (!found.session || found.closed) return undefined;
    let scope = adopted.get(store);
    if (!scope) {
      const legacy = store as LegacyActive;
      scope = new SessionScope({ raw: legacy.session, refused: legacy.session, store: als, savepoints: 0 });
      Object.defineProperty(scope, 'closed', { get: () => legacy.closed, set: done });
      adopted.set(store, scope);
    }
    return scope;
  }

  /** Savepoint counter, kept under this name for older copies of core sharing the store. */
  get savepoints(): number {
    return this.root.savepoints;
  }
  set savepoints(value: number) {
    this.root.savepoints = value;
  }

  /** This scope if open, else its nearest open ancestor (left-behind work joins the parent). */
  open(): SessionScope | undefined {
    let scope: SessionScope | undefined = this;
    while (scope?.closed) scope = scope.parent;
    return scope;
  }

  /**
   * The scope a statement sent through this scope's session belongs to: the caller's own scope
   * when the caller runs inside this transaction (the outer `tx` used inside a nested callback
   * is that nested transaction's work), else this one.
   */
  private effective(): SessionScope {
    const here = this.root.store.getStore();
    // Any copy of core: the scopes of one transaction share its root object.
    const base = (here as { root?: unknown } | undefined)?.root === this.root ? (here as SessionScope) : this;
    // All closed: the root session refuses with TRANSACTION_CLOSED.
    return base.open() ?? this;
  }

  /**
   * Run `fn` in this scope's turn: at once when nothing is queued on it (statements need no
   * queue: the connection keeps their order), else after everything queued before it.
   * `exclusive` work (a nested transaction) always takes a turn, holding it until it settles.
   */
  private turn<T>(fn: () => Promise<T>, exclusive: boolean): Promise<T> {
    if (!exclusive && this.pending === 0) return fn();
    this.pending += 1;
    const next = this.tail.then(fn);
    this.tail = next.then(done, done).then(() => {
      this.pending -= 1;
    });
    return next;
  }

  /**
   * One statement an ORM sends itself on the transaction it opened (runInSession): in this
   * scope's turn like the scope's own statements, so it waits while a nested tl.transaction of
   * this scope is open (a ROLLBACK TO would undo it after it reported success). Statements core
   * sends on that session (sendAsCore) and those of other transactions go at once.
   */
  statement<T>(send: () => Promise<T>): Promise<T> {
    if (!this.root.orm || coreSending.getStore()) return send();
    return this.turn(send, false);
  }

  /**
   * A nested transaction in this scope: a savepoint around `fn`, released when it resolves and
   * rolled back to when it throws, taken in this scope's turn.
   */
  nested<T>(fn: (tx: SqlSession) => Promise<T>): Promise<{ result: T; auditTransactionId: string | null }> {
    return this.turn(async () => {
      const raw = this.root.raw;
      const child = new SessionScope(this.root, this);
      const name = `threadline_sp_${++this.root.savepoints}`;
      await raw.query(`SAVEPOINT ${name}`);
      let result: T;
      try {
        result = await this.root.store.run(child, () => fn(child.session));
      } catch (error) {
        await child.settle();
        await raw.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
        throw error;
      }
      await child.settle();
      try {
        await raw.query(`RELEASE SAVEPOINT ${name}`);
      } catch (error) {
        // The callback caught a failed statement and returned normally: the savepoint's work is
        // aborted (25P02), so undo it and reject, leaving the enclosing scope usable.
        await raw.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
        throw error;
      }
      const { rows } = await raw.query(FINISH_SQL);
      return { result, auditTransactionId: auditIdFrom(rows[0]) };
    }, true);
  }

  /**
   * The callback settled: close the scope and let nested transactions it left running finish
   * before its savepoint is released or rolled back to (they would otherwise run on in the
   * parent's turn, where a sibling's ROLLBACK TO could undo them).
   */
  private async settle(): Promise<void> {
    this.closed = true;
    while (this.pending > 0) await this.tail;
  }

  /**
   * The root's callback settled: close it, wait for the nested transactions it left running
   * (each then releases or rolls back its own savepoint, so it commits all or nothing with the
   * transaction), then refuse every statement. Never rejects.
   */
  async close(): Promise<void> {
    try {
      await this.settle();
    } finally {
      this.finished = true;
    }
  }
}
