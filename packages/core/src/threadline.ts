import { AsyncLocalStorage } from 'node:async_hooks';
import { ActorRef } from './actor-ref.js';
import { contextBinding } from './binding.js';
import { cleanContextId, getAuditContext } from './context.js';
import { toThreadlineError } from './db-errors.js';
import { ThreadlineError } from './errors.js';
import { ThreadlineExport } from './export/export.js';
import {
  assertIdentifier,
  formatTableName,
  parseTableName,
  quoteIdent,
  type TableName,
} from './identifiers.js';
import { AuditQueries } from './query/queries.js';
import type {
  AsOfResult,
  AuditChange,
  ChangeDiff,
  IncidentBundle,
  Page,
  PageOptions,
  RowKey,
  TimeWindow,
} from './query/types.js';
import type { TimelineFilters } from './query/validate.js';
import { installScript, SCHEMA_VERSION } from './sql/install-script.js';
import { type SqlClient, type SqlResult, type SqlSession, toSqlClient } from './sql-client.js';
import {
  type ConfiguredTable,
  type ResolvedTableOptions,
  resolveTableOptions,
  resolveTablesConfig,
  type TableCaptureOptions,
  tableKey,
} from './table-options.js';

export interface ThreadlineOptions {
  /** A node-postgres Pool or Client, a PGlite instance, or any SqlClient. */
  db: unknown;
  /** Storage schema for Threadline's tables and functions. Default `threadline`. */
  schema?: string;
  /** Per-table capture options, keyed by `name` or `schema.name`. */
  tables?: Record<string, TableCaptureOptions>;
}

export interface InstallResult {
  schema: string;
  schemaVersion: number;
  /** True when the DDL event trigger is installed, so ALTER TABLE regenerates capture in place. */
  ddlSync: boolean;
}

export interface CapturePlan {
  table: TableName;
  /** `compiled` (native column reads, kept current by the DDL event trigger) or `portable`. */
  mode: 'compiled' | 'portable';
  functionName: string;
  /** The tables that get triggers: the table itself and, for a partitioned table, every partition. */
  relations: string[];
  keyColumns: string[];
  keySource: string;
  options: ResolvedTableOptions;
  /** The generated function (only in plans from planTriggers). */
  functionSql?: string;
}

export interface TriggerOptions {
  /** Table names (`name` or `schema.name`); default: every table in the `tables` option. */
  tables?: readonly string[];
  /** Called before each table is processed (for progress output). */
  onTable?: (table: TableName, index: number, total: number) => void;
}

export interface RecordActionOptions {
  actor?: ActorRef;
  status?: 'ok' | 'error';
  verb?: string;
  category?: string;
  reason?: string;
  comment?: string;
  correlationId?: string;
  requestId?: string;
  jobId?: string;
  /**
   * Record inside this session's transaction and link the action to its audit transaction.
   * Only needed when the transaction is owned by an ORM (adapters pass it); inside
   * tl.transaction the current session is used automatically.
   */
  session?: SqlSession;
}

export interface RecordedAction {
  id: string;
  /** The audit transaction it was linked to, when recorded inside a bound transaction. */
  auditTransactionId: string | null;
}

export interface TransactionResult<T> {
  result: T;
  /** The audit transaction this database transaction created, or null when it captured nothing. */
  auditTransactionId: string | null;
}

interface ActiveSession {
  readonly session: SqlSession;
  savepoints: number;
}

const FINISH_SQL =
  "SELECT current_setting('threadline.transaction', true) AS tl, txid_current_if_assigned()::text AS xid";
const MAX_TEXT = 1000;
/** Statements that control the transaction themselves are never wrapped in one. */
const TRANSACTION_CONTROL =
  /^\s*(begin|start|commit|end|rollback|abort|savepoint|release|prepare\s+transaction)\b/i;

function auditIdFrom(row: Record<string, unknown> | undefined): string | null {
  const tl = row?.tl;
  const xid = row?.xid;
  if (typeof tl !== 'string' || tl === '' || xid === null || xid === undefined) return null;
  const sep = tl.indexOf(':');
  return sep > 0 && tl.slice(0, sep) === String(xid) ? tl.slice(sep + 1) : null;
}

function optionalText(value: unknown, field: string, max = MAX_TEXT): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string')
    throw new ThreadlineError('INVALID_CONTEXT', `recordAction: ${field} must be a string`);
  if (value.length > max)
    throw new ThreadlineError('INVALID_CONTEXT', `recordAction: ${field} is longer than ${max} characters`);
  return value;
}

export class Threadline {
  readonly schema: string;
  readonly client: SqlClient;
  private readonly tables: Map<string, ConfiguredTable>;
  private readonly active = new AsyncLocalStorage<ActiveSession>();
  private readonly q: string;
  private readonly queries: AuditQueries;
  /** Exports with the timeline's filters (CSV, JSON, NDJSON) and background export jobs. */
  readonly export: ThreadlineExport = new ThreadlineExport(this);

  constructor(options: ThreadlineOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new ThreadlineError(
        'CONFIG_INVALID',
        'createThreadline: pass an options object like { db: pool }',
      );
    }
    this.client = toSqlClient(options.db);
    this.schema = options.schema ?? 'threadline';
    assertIdentifier(this.schema, 'createThreadline: schema');
    this.q = quoteIdent(this.schema);
    this.tables = resolveTablesConfig(options.tables);
    this.queries = new AuditQueries(
      async (sql, params) => (await this.query(sql, params)).rows as never,
      this.q,
      (schema, name) => {
        const opts = this.tables.get(tableKey({ schema, name }))?.options;
        return opts ? { fields: opts.mask, placeholder: opts.maskPlaceholder } : undefined;
      },
    );
  }

  /** Changes of one row, newest first. `key`: a value, or `{ col: value }` naming every key column. */
  history(table: string, key: RowKey, options?: TimeWindow & PageOptions): Promise<Page<AuditChange>> {
    return this.queries.history(table, key, options);
  }

  /** The row as it was at `at`: `found`, `deleted` (with the last row) or `before_horizon`. */
  asOf(table: string, key: RowKey, at: Date | string): Promise<AsOfResult> {
    return this.queries.asOf(table, key, at);
  }

  /** Changes made in transactions bound to `actor` (an ActorRef or "type:id"), newest first. */
  actorHistory(actor: ActorRef | string, options?: TimeWindow & PageOptions): Promise<Page<AuditChange>> {
    return this.queries.actorHistory(actor, options);
  }

  /** Changes matching `filters` (table, tableSchema, actor, from, to, correlationId), newest first. */
  timeline(filters?: TimelineFilters, options?: PageOptions): Promise<Page<AuditChange>> {
    return this.queries.timeline(filters, options);
  }

  /** The incident bundle of one audit transaction, or null when there is none with this id. */
  auditTransaction(
    id: string | number | bigint,
    options?: { changeLimit?: number },
  ): Promise<IncidentBundle | null> {
    return this.queries.auditTransaction(id, options);
  }

  /** Field-level before/after of a change (masked values flagged using this instance's table options). */
  changeDiff(change: AuditChange): ChangeDiff {
    return this.queries.diff(change);
  }

  /** Create or update the storage schema, tables, indexes and functions. Idempotent. */
  async install(): Promise<InstallResult> {
    try {
      await this.client.exec(installScript(this.schema));
      const { rows } = await this.client.query<{ version: number; ddl_sync: boolean }>(
        `SELECT version, EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'threadline_sync_' || md5($1) AND evtenabled = 'A') AS ddl_sync FROM ${this.q}.schema_version`,
        [this.schema],
      );
      return {
        schema: this.schema,
        schemaVersion: Number(rows[0]?.version),
        ddlSync: rows[0]?.ddl_sync === true,
      };
    } catch (error) {
      throw toThreadlineError(error, 'install');
    }
  }

  /** The installed schema version, or null when Threadline is not installed in this database. */
  async installedVersion(): Promise<number | null> {
    const { rows } = await this.client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [
      `${this.q}.schema_version`,
    ]);
    if (!rows[0]?.ok) return null;
    const version = await this.client.query<{ version: number }>(
      `SELECT version FROM ${this.q}.schema_version`,
    );
    return version.rows[0] ? Number(version.rows[0].version) : null;
  }

  private async assertInstalled(what: string): Promise<void> {
    const version = await this.installedVersion().catch((error) => {
      throw toThreadlineError(error, what);
    });
    if (version === null || version < SCHEMA_VERSION) {
      throw new ThreadlineError(
        'NOT_INSTALLED',
        `${what}: Threadline is not installed in schema "${this.schema}"${version === null ? '' : ` (found version ${version}, need ${SCHEMA_VERSION})`}; run tl.install() or \`threadline install --apply\` first`,
      );
    }
  }

  /** The tables to act on: the given names, or every table in the `tables` option. */
  resolveTargets(names?: readonly string[]): ConfiguredTable[] {
    if (names === undefined) {
      if (this.tables.size === 0) {
        throw new ThreadlineError(
          'CONFIG_INVALID',
          'installTriggers: no tables given and none configured; pass { tables: ["posts"] } or configure tables',
        );
      }
      return [...this.tables.values()];
    }
    if (!Array.isArray(names) || names.length === 0) {
      throw new ThreadlineError(
        'CONFIG_INVALID',
        'installTriggers: tables must be a non-empty array of table names',
      );
    }
    const seen = new Set<string>();
    return names.map((name) => {
      const table = parseTableName(name);
      const key = tableKey(table);
      if (seen.has(key))
        throw new ThreadlineError(
          'CONFIG_INVALID',
          `installTriggers: ${formatTableName(table)} is listed more than once`,
        );
      seen.add(key);
      return this.tables.get(key) ?? { table, options: resolveTableOptions(formatTableName(table), {}) };
    });
  }

  /**
   * Install or replace capture triggers, in one transaction (all tables or none). Rerunning is
   * safe: functions and triggers are replaced in place, with no gap in capture.
   */
  async installTriggers(options: TriggerOptions = {}): Promise<CapturePlan[]> {
    const targets = this.resolveTargets(options.tables);
    await this.assertInstalled('installTriggers');
    try {
      return await this.client.transaction(async (session) => {
        const plans: CapturePlan[] = [];
        for (const [index, { table, options: opts }] of targets.entries()) {
          options.onTable?.(table, index, targets.length);
          const { rows } = await session.query<{ plan: RawPlan }>(
            `SELECT ${this.q}.enable_capture($1, $2, $3::jsonb) AS plan`,
            [table.schema, table.name, JSON.stringify(opts)],
          );
          plans.push(toPlan(rows[0]!.plan));
        }
        return plans;
      });
    } catch (error) {
      throw toThreadlineError(error, 'installTriggers');
    }
  }

  /** What installTriggers would do, including the generated SQL. Changes nothing (rolled back). */
  async planTriggers(options: TriggerOptions = {}): Promise<CapturePlan[]> {
    const targets = this.resolveTargets(options.tables);
    const installed =
      (await this.installedVersion().catch((e) => Promise.reject(toThreadlineError(e, 'planTriggers')))) ===
      SCHEMA_VERSION;
    const rollback = Symbol('rollback');
    let plans: CapturePlan[] = [];
    try {
      await this.client.transaction(async (session) => {
        if (!installed) await session.exec(installScript(this.schema));
        for (const [index, { table, options: opts }] of targets.entries()) {
          options.onTable?.(table, index, targets.length);
          const { rows } = await session.query<{ plan: RawPlan }>(
            `SELECT ${this.q}.capture_plan($1, $2, $3::jsonb) AS plan`,
            [table.schema, table.name, JSON.stringify(opts)],
          );
          plans.push(toPlan(rows[0]!.plan, true));
        }
        throw rollback;
      });
    } catch (error) {
      if (error !== rollback) {
        plans = [];
        throw toThreadlineError(error, 'planTriggers');
      }
    }
    return plans;
  }

  /** Remove capture from tables (captured audit rows are kept). */
  async removeTriggers(options: { tables: readonly string[] }): Promise<TableName[]> {
    const targets = this.resolveTargets(options.tables);
    await this.assertInstalled('removeTriggers');
    return this.client.transaction(async (session) => {
      const removed: TableName[] = [];
      for (const { table } of targets) {
        const { rows } = await session.query<{ ok: boolean }>(
          `SELECT ${this.q}.disable_capture($1, $2) AS ok`,
          [table.schema, table.name],
        );
        if (rows[0]?.ok) removed.push(table);
      }
      return removed;
    });
  }

  /**
   * Run `fn` in a database transaction whose first statement binds the active audit context.
   * Inside `fn`, tl.query and tl.recordAction use this transaction; a nested tl.transaction
   * becomes a savepoint (the context is bound once).
   */
  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<TransactionResult<T>> {
    const current = this.active.getStore();
    if (current) return this.savepoint(current, fn);
    let auditTransactionId: string | null = null;
    const binding = contextBinding();
    const result = await this.client.transaction(
      (session) => this.active.run({ session, savepoints: 0 }, () => fn(session)),
      {
        ...(binding ? { start: binding } : {}),
        finish: { sql: FINISH_SQL, rows: (rows) => (auditTransactionId = auditIdFrom(rows[0])) },
      },
    );
    return { result, auditTransactionId };
  }

  private async savepoint<T>(
    current: ActiveSession,
    fn: (tx: SqlSession) => Promise<T>,
  ): Promise<TransactionResult<T>> {
    const name = `threadline_sp_${++current.savepoints}`;
    await current.session.query(`SAVEPOINT ${name}`);
    let result: T;
    try {
      result = await fn(current.session);
    } catch (error) {
      await current.session.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      throw error;
    }
    await current.session.query(`RELEASE SAVEPOINT ${name}`);
    const { rows } = await current.session.query(FINISH_SQL);
    return { result, auditTransactionId: auditIdFrom(rows[0]) };
  }

  /**
   * Run one statement. Inside tl.transaction it runs in that transaction; otherwise, when an
   * audit context is active, it runs in a short transaction that binds the context first.
   */
  async query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<SqlResult<R>> {
    const current = this.active.getStore();
    if (current) return current.session.query<R>(sql, params);
    const binding = contextBinding();
    if (!binding || TRANSACTION_CONTROL.test(sql)) return this.client.query<R>(sql, params);
    return this.client.queryAfter<R>(binding, sql, params);
  }

  /**
   * Store a semantic action (who did what and why). Inside tl.transaction it is linked to that
   * transaction's audit row. Actor, correlation, request and job ids default from the context.
   */
  async recordAction(name: string, options: RecordActionOptions = {}): Promise<RecordedAction> {
    if (typeof name !== 'string' || name.trim() === '' || name.length > 200) {
      throw new ThreadlineError(
        'INVALID_CONTEXT',
        'recordAction: name must be a non-empty string of at most 200 characters, e.g. "post.published"',
      );
    }
    const ctx = getAuditContext();
    const actor = options.actor ? ActorRef.parse(options.actor) : ctx?.actor;
    if (!actor) {
      throw new ThreadlineError(
        'INVALID_ACTOR',
        'recordAction: no actor; pass { actor: ActorRef.user(id) } or call it inside an audit context that has one',
      );
    }
    if (options.status !== undefined && options.status !== 'ok' && options.status !== 'error') {
      throw new ThreadlineError('INVALID_CONTEXT', 'recordAction: status must be "ok" or "error"');
    }
    const id = (value: unknown, field: string) => {
      if (value === undefined || value === null) return null;
      const clean = cleanContextId(value);
      if (clean === undefined)
        throw new ThreadlineError(
          'INVALID_CONTEXT',
          `recordAction: ${field} must be a non-empty string of at most 256 bytes`,
        );
      return clean;
    };
    const current = options.session ? { session: options.session } : this.active.getStore();
    const params = [
      name.trim(),
      ActorRef.toJSON(actor),
      options.status ?? 'ok',
      optionalText(options.verb, 'verb', 200),
      optionalText(options.category, 'category', 200),
      optionalText(options.reason, 'reason'),
      optionalText(options.comment, 'comment', 10_000),
      id(options.correlationId ?? ctx?.correlationId, 'correlationId'),
      id(options.requestId ?? ctx?.requestId, 'requestId'),
      id(options.jobId ?? ctx?.jobId, 'jobId'),
      current !== undefined,
    ];
    const sql = `SELECT action_id::text AS id, transaction_id::text AS tx FROM ${this.q}.record_action($1, $2::jsonb, $3, $4, $5, $6, $7, $8, $9, $10, $11)`;
    try {
      const { rows } = await (current ? current.session : this.client).query<{
        id: string;
        tx: string | null;
      }>(sql, params);
      return { id: rows[0]!.id, auditTransactionId: rows[0]!.tx ?? null };
    } catch (error) {
      throw toThreadlineError(error, 'recordAction');
    }
  }

  /** Run `fn` with `session` as the current transaction (for adapters whose ORM owns it). */
  runInSession<T>(session: SqlSession, fn: () => T): T {
    return this.active.run({ session, savepoints: 0 }, fn);
  }
}

/** A plan as the database function returns it: the table as two fields, plus bookkeeping. */
type RawPlan = Omit<CapturePlan, 'table'> & { schema: string; name: string };

function toPlan(raw: RawPlan, withSql = false): CapturePlan {
  const { schema, name, functionSql, mode, functionName, relations, keyColumns, keySource, options } = raw;
  const plan: CapturePlan = {
    table: { schema, name },
    mode,
    functionName,
    relations,
    keyColumns,
    keySource,
    options,
  };
  if (withSql && functionSql) plan.functionSql = functionSql;
  return plan;
}

/** Create a Threadline instance bound to one database and storage schema. */
export function createThreadline(options: ThreadlineOptions): Threadline {
  return new Threadline(options);
}
