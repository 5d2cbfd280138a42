import { type RecordActionOptions, type RecordedAction, recordAction } from './actions/record-action.js';
import { missingMethod, readInstance } from './adapter-instance.js';
import { AuditedSessions, type TransactionResult } from './attribution/audited-session.js';
import { assertIdentifier, quoteIdent, type TableName } from './capture/identifiers.js';
import { type ConfiguredTable, resolveTablesConfig } from './capture/table-options.js';
import {
  type CapturePlan,
  installTriggers,
  planTriggers,
  removeTriggers,
  resolveTargets,
  type TriggerContext,
  type TriggerOptions,
} from './capture/trigger-operations.js';
import type { ActorRef } from './context/actor-ref.js';
import { getAuditContext } from './context/context.js';
import type { OperationsContext } from './context/operations-context.js';
import { ContinuityChecks } from './continuity/continuity.js';
import { toThreadlineError } from './db/db-errors.js';
import { type ReadConsistency, type ReadOptions, ReadRouting, toReadClient } from './db/read-routing.js';
import { type SqlClient, type SqlResult, type SqlSession, toSqlClient } from './db/sql-client.js';
import { isThreadlineError, ThreadlineError } from './errors.js';
import { ThreadlineExport } from './export/export.js';
import { resolveHealthConfig } from './health/config.js';
import { HealthChecks } from './health/health.js';
import {
  type InstallResult,
  runInstall,
  runUninstall,
  type UninstallOptions,
  type UninstallResult,
} from './install/install.js';
import { SCHEMA_VERSION } from './install/install-script.js';
import { createIntegrity, type IntegrityApi } from './integrity/index.js';
import { guardRead, isObjectInput, readInput } from './plain-input.js';
import { PolicyChecks } from './policy/policy.js';
import { type Activity, type ActivityFilters, activityCounts } from './query/activity.js';
import type { TransactionFilter } from './query/incident.js';
import { AuditQueries } from './query/queries.js';
import type { Run } from './query/sql-parts.js';
import type {
  AsOfResult,
  AuditChange,
  AuditTransactionInfo,
  ChangeDiff,
  IncidentBundle,
  IncidentOptions,
  Page,
  PageOptions,
  RowKey,
  TimeWindow,
} from './query/types.js';
import type { TimelineFilters } from './query/validate.js';
import { createRetention, type RetentionApi } from './retention/index.js';
import { resolveRetentionPolicy } from './retention/policy.js';
import { RevertApi } from './revert/index.js';
import { type ResolvedStorageConfig, resolveStorageConfig } from './storage/config.js';
import { createStorage, type StorageApi } from './storage/index.js';
import { hotChannels } from './telemetry/publish.js';
import type { ThreadlineOptions } from './threadline-options.js';

export type { RecordActionOptions, RecordedAction } from './actions/record-action.js';
export type { TransactionResult } from './attribution/audited-session.js';
export type { CapturePlan, TriggerOptions } from './capture/trigger-operations.js';
export type { ThreadlineOptions } from './threadline-options.js';

export class Threadline {
  readonly schema: string;
  /** The primary (`db`): every write, and reads asked for with `{ consistency: 'primary' }`. */
  readonly client: SqlClient;
  /** `db` and `readDb`, and which a read of each consistency goes to. */
  readonly routing: ReadRouting;
  private readonly tables: Map<string, ConfiguredTable>;
  private readonly sessions: AuditedSessions;
  private readonly q: string;
  private readonly queries: AuditQueries;
  /** Purge audit data past the retention window; list and schedule runs. */
  readonly retention: RetentionApi;
  /** Partitions of audit_changes: status and maintenance (SPEC section 10). */
  readonly storage: StorageApi;
  private readonly storageConfig: ResolvedStorageConfig;
  /** Undo a transaction, a correlation bundle or one row's changes: `plan(target)`, then `apply(plan)`. */
  readonly revert: RevertApi;
  /** Coverage, findings and the CI gate (SPEC §9). */
  readonly health: HealthChecks;
  /** Configured vs deployed redaction. */
  readonly policy: PolicyChecks;
  /** Brownfield continuity report and the opt-in baseline. */
  readonly continuity: ContinuityChecks;
  /** Tamper evidence: seal the audit rows into a hash chain, verify them against it. */
  readonly integrity: IntegrityApi;
  /** Exports with the timeline's filters (CSV, JSON, NDJSON) and background export jobs. */
  readonly export: ThreadlineExport = new ThreadlineExport(this);

  constructor(input: ThreadlineOptions) {
    if (!isObjectInput(input)) {
      throw new ThreadlineError(
        'CONFIG_INVALID',
        'createThreadline: pass an options object like { db: pool }',
      );
    }
    const options = readInput(
      input,
      'createThreadline options',
      'CONFIG_INVALID',
    ) as unknown as ThreadlineOptions;
    this.client = toSqlClient(options.db);
    this.routing = new ReadRouting(this.client, toReadClient(options.readDb, options.db, this.client));
    this.schema = options.schema ?? 'threadline';
    assertIdentifier(this.schema, 'createThreadline: schema');
    this.q = quoteIdent(this.schema);
    this.tables = resolveTablesConfig(options.tables);
    this.sessions = new AuditedSessions(this.client);
    this.storageConfig = resolveStorageConfig(options.storage);
    this.storage = createStorage(this.client, this.schema, (what) => this.assertInstalled(what));
    this.retention = createRetention(
      this.client,
      this.schema,
      this.q,
      options.retention === undefined ? undefined : resolveRetentionPolicy(options.retention),
    );
    const ops = this.operationsContext(this.client);
    this.health = new HealthChecks(ops, resolveHealthConfig(options.health));
    this.integrity = createIntegrity(ops);
    this.policy = new PolicyChecks(ops);
    this.continuity = new ContinuityChecks(ops);
    this.queries = new AuditQueries((consistency) => this.reader(consistency), this.q);
    this.revert = new RevertApi(this, this.q);
  }

  private operationsContext(client: SqlClient): OperationsContext {
    return {
      client,
      schema: this.schema,
      q: this.q,
      tables: this.tables,
      routing: this.routing,
      assertInstalled: (what: string) => this.assertInstalled(what, client),
      forRead: (consistency) => this.operationsContext(this.routing.client(consistency)),
    };
  }

  /**
   * @internal Run reads of `consistency`: inside tl.transaction on that transaction (it sees its
   * own writes), else on readDb (`'replica'`, when configured) or db (`'primary'`). The seam for
   * every read of the audit tables (queries, export pages, verifications).
   */
  /** @internal Whether this call runs inside a tl.transaction (its reads use that transaction). */
  inTransaction(): boolean {
    return Boolean(this.sessions.current());
  }

  reader(consistency: ReadConsistency = 'replica'): Run {
    return async (sql, params) => {
      const current = this.sessions.current();
      const target = current ? current.session : this.routing.client(consistency);
      return (await target.query(sql, params)).rows as never;
    };
  }

  /** Changes of one row, newest first. `key`: a value, or `{ col: value }` naming every key column. */
  history(table: string, key: RowKey, options?: TimeWindow & PageOptions): Promise<Page<AuditChange>> {
    return this.queries.history(table, key, options);
  }

  /** The row as it was at `at`: `found`, `deleted` (with the last row) or `before_horizon`. */
  asOf(table: string, key: RowKey, at: Date | string, options?: ReadOptions): Promise<AsOfResult> {
    return this.queries.asOf(table, key, at, options);
  }

  /** Changes made in transactions bound to `actor` (an ActorRef or "type:id"), newest first. */
  actorHistory(actor: ActorRef | string, options?: TimeWindow & PageOptions): Promise<Page<AuditChange>> {
    return this.queries.actorHistory(actor, options);
  }

  /**
   * Changes matching `filters` (table, tableSchema, actor — null for no actor —, from, to,
   * correlationId, requestId, jobId), newest first.
   */
  timeline(filters?: TimelineFilters, options?: PageOptions): Promise<Page<AuditChange>> {
    return this.queries.timeline(filters, options);
  }

  /**
   * Changes and transactions per bucket of time (`bucket`: minute, hour, day, week or month, UTC)
   * with the timeline's filters; every bucket of the window, oldest first.
   */
  activity(filters?: ActivityFilters): Promise<Activity> {
    return activityCounts(this.reader('replica'), this.q, filters).catch((error) => {
      throw isThreadlineError(error) ? error : toThreadlineError(error, 'activity');
    });
  }

  /**
   * The incident bundle of one audit transaction, or null when there is none with this id. Holds
   * up to `changeLimit` (default and most 10000) changes; continue with `changeCursor` while
   * `hasMoreChanges`.
   */
  auditTransaction(id: string | number | bigint, options?: IncidentOptions): Promise<IncidentBundle | null> {
    return this.queries.auditTransaction(id, options);
  }

  /** The audit transactions of one request (`{ requestId }`) or job (`{ jobId }`), oldest first, paged. */
  auditTransactions(filter: TransactionFilter, options?: PageOptions): Promise<Page<AuditTransactionInfo>> {
    return this.queries.auditTransactions(filter, options);
  }

  /**
   * Field-level before/after of a change. Masked values are flagged by what the table's capture
   * function was generated with (the database's registry), as read by the query of this instance
   * that returned the change; a change from elsewhere is not flagged.
   */
  changeDiff(change: AuditChange): ChangeDiff {
    return this.queries.diff(change);
  }

  /**
   * Create or update the storage schema, tables, indexes and functions. Idempotent; verifies and
   * repairs capture after restores (see docs/operations.md) and reports what it cannot repair.
   */
  async install(): Promise<InstallResult> {
    return runInstall(this.client, this.schema, this.storageConfig).catch((error) => {
      throw toThreadlineError(error, 'install');
    });
  }

  /**
   * Remove Threadline from the database: a dry run by default (returns the statements); with
   * `dryRun: false` runs them in one transaction. Audit data is kept unless `dropData: true`.
   */
  async uninstall(options: UninstallOptions = {}): Promise<UninstallResult> {
    return runUninstall(this.client, this.schema, options).catch((error) => {
      throw toThreadlineError(error, 'uninstall');
    });
  }

  /** The installed schema version, or null when Threadline is not installed in this database. */
  installedVersion(): Promise<number | null> {
    return this.versionOn(this.client);
  }

  private async versionOn(client: SqlClient): Promise<number | null> {
    const { rows } = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [
      `${this.q}.schema_version`,
    ]);
    if (!rows[0]?.ok) return null;
    const version = await client.query<{ version: number }>(`SELECT version FROM ${this.q}.schema_version`);
    return version.rows[0] ? Number(version.rows[0].version) : null;
  }

  private async assertInstalled(what: string, client: SqlClient = this.client): Promise<void> {
    const version = await this.versionOn(client).catch((error) => {
      throw toThreadlineError(error, what);
    });
    if (version === null || version < SCHEMA_VERSION) {
      throw new ThreadlineError(
        'NOT_INSTALLED',
        `${what}: Threadline is not installed in schema "${this.schema}"${version === null ? '' : ` (found version ${version}, need ${SCHEMA_VERSION})`}; run tl.install() or \`threadline install --apply\` first`,
      );
    }
  }

  /**
   * Run `fn` in a database transaction whose first statement binds the active audit context.
   * Inside `fn`, tl.query and tl.recordAction use this transaction; a nested tl.transaction
   * becomes a savepoint (the context is bound once). Once `fn` settled, work it left behind
   * (timers, unawaited promises) no longer joins the transaction: tl.query and tl.recordAction
   * then open their own, and `tx` refuses with TRANSACTION_CLOSED.
   */
  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<TransactionResult<T>> {
    const bound = getAuditContext() !== undefined;
    const out = await this.sessions.transaction(fn);
    if (hotChannels.transactionBound.hasSubscribers)
      hotChannels.transactionBound.publish({ captured: out.auditTransactionId !== null, bound });
    return out;
  }

  /**
   * Run one statement. Inside tl.transaction it runs in that transaction; otherwise, when an
   * audit context is active, the binding statement runs with it in one implicit transaction
   * (one round trip), unless the statement is provably read-only (docs/context.md). BEGIN,
   * COMMIT and ROLLBACK are refused (TRANSACTION_CONTROL): use tl.transaction.
   */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<SqlResult<R>> {
    return this.sessions.query<R>(sql, params);
  }

  /** The tables to act on: the given names, or every table in the `tables` option. */
  resolveTargets(names?: readonly string[], where = 'resolveTargets'): ConfiguredTable[] {
    // A list that cannot be read (a proxy or getter that throws) is CONFIG_INVALID, not its error.
    return guardRead(`${where}: tables`, 'CONFIG_INVALID', () => resolveTargets(this.tables, names, where));
  }

  /**
   * Install or replace capture triggers, in one transaction (all tables or none). Rerunning is
   * safe: functions and triggers are replaced in place, with no gap in capture.
   */
  installTriggers(options: TriggerOptions = {}): Promise<CapturePlan[]> {
    return installTriggers(this.triggerContext(), options);
  }

  /** What installTriggers would do, including the generated SQL. Changes nothing (rolled back). */
  planTriggers(options: TriggerOptions = {}): Promise<CapturePlan[]> {
    return planTriggers(this.triggerContext(), options);
  }

  /** Remove capture from tables (captured audit rows are kept). */
  removeTriggers(options: { tables: readonly string[] }): Promise<TableName[]> {
    return removeTriggers(this.triggerContext(), options);
  }

  private triggerContext(): TriggerContext {
    return {
      client: this.client,
      schema: this.schema,
      q: this.q,
      tables: this.tables,
      assertInstalled: (what) => this.assertInstalled(what),
      installedVersion: () => this.installedVersion(),
    };
  }

  /**
   * Store a semantic action (who did what and why). Inside tl.transaction it is linked to that
   * transaction's audit row. Actor, correlation, request and job ids default from the context.
   * Inside a context with no actor the action is recorded as ActorRef.anonymous(); with neither
   * an `actor` option nor a context it throws ThreadlineError('INVALID_ACTOR').
   */
  async recordAction(name: string, input?: RecordActionOptions): Promise<RecordedAction> {
    if (input !== undefined && input !== null && !isObjectInput(input))
      throw new ThreadlineError('QUERY_INVALID', 'recordAction: options must be an object');
    const options: RecordActionOptions = input ? readInput(input, 'recordAction options') : {};
    if (options.session != null && typeof (options.session as { query?: unknown }).query !== 'function')
      throw new ThreadlineError(
        'QUERY_INVALID',
        'recordAction: session must be the SqlSession of a transaction',
      );
    const current = options.session ? { session: options.session } : this.sessions.current();
    return recordAction(this.client, this.q, current, name, options);
  }

  /**
   * Run `fn` with `session` as the current transaction (for adapters whose ORM owns it), until
   * `fn` settles: work it leaves behind runs outside the transaction.
   */
  runInSession<T>(session: SqlSession, fn: () => T): T {
    readInstance(
      session,
      'runInSession(session, fn)',
      'session must be a SqlSession { query(sql, params), exec(sql) } on the transaction the ORM opened',
      (s, refuse) => {
        const missing = missingMethod(s, ['query', 'exec'], 'session');
        if (missing) refuse(missing);
      },
    );
    if (typeof fn !== 'function')
      throw new ThreadlineError('CONFIG_INVALID', 'runInSession(session, fn): fn must be a function');
    return this.sessions.runInSession(session, fn);
  }

  /**
   * For adapters: send one statement the ORM itself issues inside a transaction it passed to
   * runInSession. It waits while a nested tl.transaction of the current scope is open (whose
   * ROLLBACK TO would otherwise undo it after it reported success); inside a nested
   * transaction's callback it is that transaction's own work. Other statements go at once.
   */
  runOrmStatement<T>(send: () => Promise<T>): Promise<T> {
    if (typeof send !== 'function')
      return Promise.reject(
        new ThreadlineError(
          'CONFIG_INVALID',
          'runOrmStatement(send): send must be a function that sends the statement and returns its promise',
        ),
      );
    return this.sessions.ormStatement(send);
  }
}

/** Create a Threadline instance bound to one database and storage schema. */
export function createThreadline(options: ThreadlineOptions): Threadline {
  return new Threadline(options);
}
