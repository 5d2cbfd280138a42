import { randomBytes } from 'node:crypto';
import {
  ActorRef,
  type AuditContext,
  createThreadline,
  runWithAuditContext,
  type Threadline,
} from '@threadline/core';
import pg from 'pg';
import { ANCHOR_SQL, anchorTriggerSql } from './anchor.js';
import {
  ACTOR_JSON,
  AFTER_INSTALL_SQL,
  ALL_TABLES,
  FIXTURES,
  type Fixture,
  insertRowsSql,
  SETUP_SQL,
  type TableKind,
  TL_SCHEMA,
  tableOf,
} from './schema.js';

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** The context every bound transaction carries (the same for every variant). */
function benchContext(correlationId: string): AuditContext {
  return { actor: ActorRef.user('7'), correlationId };
}

/** Run one statement in tl.transaction inside an audit context: BEGIN, binding, statement, finish + COMMIT. */
export async function boundQuery(
  tl: Threadline,
  correlationId: string,
  sql: string,
  params?: readonly unknown[],
): Promise<number> {
  const { result } = await runWithAuditContext(benchContext(correlationId), () =>
    tl.transaction((tx) => tx.query(sql, params)),
  );
  return result.rowCount ?? 0;
}

export interface AuditCounts {
  changes: number;
  opChanges: number;
  statusOnly: number;
  transactions: number;
  withActor: number;
  withCorrelation: number;
  orphans: number;
  floorChanges: number;
  floorTransactions: number;
  auditBytes: number;
  floorBytes: number;
  anchorChanges: number;
  anchorTransactions: number;
  anchorBytes: number;
}

/**
 * A throwaway database `tl_bench_<random>` on the server. Only this database is ever written;
 * `drop()` removes it (WITH (FORCE), so it also works while a run is still connected).
 */
export class BenchDb {
  readonly name: string;
  readonly url: string;
  private admin: pg.Client | null = null;
  private dropped = false;

  constructor(private readonly maintenanceUrl: string) {
    this.name = `tl_bench_${randomBytes(5).toString('hex')}`;
    const url = new URL(maintenanceUrl);
    url.pathname = `/${this.name}`;
    this.url = url.toString();
  }

  async create(): Promise<void> {
    await this.onMaintenance((c) => c.query(`CREATE DATABASE ${this.name}`));
    this.admin = await this.connect('admin');
  }

  async drop(): Promise<void> {
    if (this.dropped) return;
    this.dropped = true;
    await this.admin?.end().catch(() => undefined);
    await this.onMaintenance((c) => c.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`));
  }

  private async onMaintenance(fn: (c: pg.Client) => Promise<unknown>): Promise<void> {
    const c = new pg.Client({ connectionString: this.maintenanceUrl, application_name: 'tl-bench-admin' });
    await c.connect();
    try {
      await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** A fresh connection to the bench database. */
  async connect(role: string, statementTimeoutMs = 600_000): Promise<pg.Client> {
    const c = new pg.Client({
      connectionString: this.url,
      application_name: `tl-bench-${role}`,
      statement_timeout: statementTimeoutMs,
    });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  pool(size: number): pg.Pool {
    const pool = new pg.Pool({ connectionString: this.url, max: size, application_name: 'tl-bench-pool' });
    pool.on('error', () => undefined);
    return pool;
  }

  get sql(): pg.Client {
    if (!this.admin) throw new Error('bench database not created');
    return this.admin;
  }

  async scalar<T = string>(sql: string, params?: unknown[]): Promise<T> {
    const { rows } = await this.sql.query(sql, params);
    return Object.values(rows[0] ?? {})[0] as T;
  }

  /** Tables, Threadline's schema (tl.install) and capture on posts_audit (tl.installTriggers). */
  async setup(compareInvoker = false): Promise<{
    mode: string;
    functionName: string;
    ddlSync: boolean;
    server: string;
    indexes: string[];
  }> {
    await this.sql.query(SETUP_SQL);
    await this.sql.query(ANCHOR_SQL);
    for (const f of FIXTURES) await this.sql.query(anchorTriggerSql(tableOf('anchor', f), ['id']));
    // TL_STORAGE_PARTITION=none measures the unpartitioned layout (default: the install default).
    const partition = process.env.TL_STORAGE_PARTITION as 'none' | 'day' | 'week' | 'month' | undefined;
    const tl = createThreadline({ db: this.sql, ...(partition ? { storage: { partition } } : {}) });
    const installed = await tl.install();
    await this.sql.query(AFTER_INSTALL_SQL);
    const [plan] = await tl.installTriggers({ tables: FIXTURES.map((f) => tableOf('audit', f)) });
    if (compareInvoker) await this.installInvoker(tl, [tableOf('invoker')]);
    const server = await this.scalar<string>('SHOW server_version');
    // The audit tables' indexes, as installed: every one costs time and bytes on every change.
    const { rows } = await this.sql.query(
      `SELECT t.relname AS tbl, string_agg(replace(c.relname, t.relname || '_', '') || ' ' ||
              regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING [a-z]+ ', ''), '; ' ORDER BY c.relname) AS defs
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relnamespace = $1::regnamespace AND t.relname IN ('audit_changes', 'audit_transactions')
        GROUP BY t.relname ORDER BY t.relname`,
      [TL_SCHEMA],
    );
    const indexes = rows.map((r) => `${r.tbl}: ${r.defs}`);
    return {
      mode: plan!.mode,
      functionName: plan!.functionName,
      ddlSync: installed.ddlSync,
      server,
      indexes,
    };
  }

  /**
   * Capture as it was before issue 12 on `tables`: the same generated functions, switched to
   * SECURITY INVOKER (the only run-time difference; the benchmark runs as a superuser, so the
   * writer's INSERT privilege on audit_changes is not in question).
   */
  async installInvoker(tl: Threadline, tables: string[]): Promise<void> {
    const plans = await tl.installTriggers({ tables });
    for (const p of plans) {
      await this.sql.query(`ALTER FUNCTION ${TL_SCHEMA}.${p.functionName}() SECURITY INVOKER`);
    }
  }

  /**
   * Empty every table (triggers disabled), load `rows` rows into each of `kinds`' tables of
   * `fixture` with triggers disabled (session_replication_role = replica), then VACUUM ANALYZE
   * them. Each run starts from the same state: only its own tables hold data, the audit tables
   * are empty.
   */
  async reset(kinds: TableKind | TableKind[], rows: number, fixture: Fixture = 'posts'): Promise<void> {
    const tables = [...new Set(Array.isArray(kinds) ? kinds : [kinds])].map((k) => tableOf(k, fixture));
    const c = this.sql;
    await c.query('SET session_replication_role = replica');
    try {
      await c.query(`TRUNCATE ${ALL_TABLES.join(', ')} RESTART IDENTITY`);
      if (rows > 0) for (const table of tables) await c.query(insertRowsSql(table, rows, fixture));
    } finally {
      await c.query('SET session_replication_role = DEFAULT');
    }
    for (const table of tables) await c.query(`VACUUM ANALYZE ${table}`);
  }

  async checkpoint(): Promise<void> {
    await this.sql.query('CHECKPOINT');
  }

  async walLsn(): Promise<string> {
    return this.scalar<string>('SELECT pg_current_wal_insert_lsn()::text');
  }

  async walSince(lsn: string): Promise<number> {
    return Number(
      await this.scalar('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)', [lsn]),
    );
  }

  /** Counts and sizes of the audit tables and of the floor's tables (they are empty before every run). */
  async auditCounts(op: string): Promise<AuditCounts> {
    const { rows } = await this.sql.query(
      `SELECT
         (SELECT count(*) FROM ${TL_SCHEMA}.audit_changes) AS changes,
         (SELECT count(*) FROM ${TL_SCHEMA}.audit_changes WHERE op = $1) AS op_changes,
         (SELECT count(*) FROM ${TL_SCHEMA}.audit_changes WHERE changed_fields = '{status}') AS status_only,
         (SELECT count(*) FROM ${TL_SCHEMA}.audit_transactions) AS transactions,
         (SELECT count(*) FROM ${TL_SCHEMA}.audit_transactions WHERE actor_ref = $2::jsonb) AS with_actor,
         (SELECT count(*) FROM ${TL_SCHEMA}.audit_transactions WHERE correlation_id LIKE 'bench-%') AS with_correlation,
         (SELECT count(*) FROM ${TL_SCHEMA}.audit_changes c
           WHERE NOT EXISTS (SELECT 1 FROM ${TL_SCHEMA}.audit_transactions t WHERE t.id = c.transaction_id)) AS orphans,
         (SELECT count(*) FROM bench.floor_changes) AS floor_changes,
         (SELECT count(*) FROM bench.floor_transactions) AS floor_transactions,
         coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('${TL_SCHEMA}.audit_changes')), pg_total_relation_size('${TL_SCHEMA}.audit_changes')) + pg_total_relation_size('${TL_SCHEMA}.audit_transactions') AS audit_bytes,
         pg_total_relation_size('bench.floor_changes') + pg_total_relation_size('bench.floor_transactions') AS floor_bytes,
         (SELECT count(*) FROM anchor.changes) AS anchor_changes,
         (SELECT count(*) FROM anchor.transactions) AS anchor_transactions,
         pg_total_relation_size('anchor.changes') + pg_total_relation_size('anchor.transactions') AS anchor_bytes`,
      [op, ACTOR_JSON],
    );
    const r = rows[0] as Record<string, string>;
    return {
      changes: Number(r.changes),
      opChanges: Number(r.op_changes),
      statusOnly: Number(r.status_only),
      transactions: Number(r.transactions),
      withActor: Number(r.with_actor),
      withCorrelation: Number(r.with_correlation),
      orphans: Number(r.orphans),
      floorChanges: Number(r.floor_changes),
      floorTransactions: Number(r.floor_transactions),
      auditBytes: Number(r.audit_bytes),
      floorBytes: Number(r.floor_bytes),
      anchorChanges: Number(r.anchor_changes),
      anchorTransactions: Number(r.anchor_transactions),
      anchorBytes: Number(r.anchor_bytes),
    };
  }
}
