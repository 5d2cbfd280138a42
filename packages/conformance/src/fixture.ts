import { ActorRef, createThreadline, type Threadline } from '@threadline/core';
import {
  createTestDatabase,
  type PgBouncer,
  pgbouncerInstalled,
  postgresEnabled,
  REQUIRE_SERVICES,
  startPgBouncer,
  type TestDatabase,
} from '@threadline/test-utils';
import type pg from 'pg';

/** How a conformance suite connects the application under test to PostgreSQL. */
export interface ConformanceOptions {
  /**
   * Through a PgBouncer in transaction pooling mode (a server pool as small as the application's
   * pool), as many deployments run: binding must hold when server connections change hands
   * between transactions. Assertions still read the database directly.
   */
  pgbouncer?: boolean;
}

/**
 * True when the services a suite needs are there: PostgreSQL, and PgBouncer when asked for
 * (under CI=true a missing PgBouncer fails the suite instead of skipping it).
 */
export const servicesFor = (options: ConformanceOptions = {}) =>
  postgresEnabled() && (!options.pgbouncer || pgbouncerInstalled() || REQUIRE_SERVICES);

/** The suite's name with how it connects. */
export const suiteName = (name: string, options: ConformanceOptions = {}) =>
  options.pgbouncer ? `${name} through PgBouncer (transaction pooling)` : name;

export interface ConformanceDb {
  server: TestDatabase;
  /** Where the application connects: the test database, or the PgBouncer in front of it. */
  appUrl: string;
  /** The pool Threadline uses (size as requested), on appUrl. */
  pool: pg.Pool;
  tl: Threadline;
  /**
   * A fresh audited table `(id int primary key, note text, tick bigint)`; `tick` defaults to the
   * next value of a sequence, which a rolled-back insert consumes too (see inserts()).
   */
  table(): Promise<string>;
  /** How many inserts into `table` ran so far, committed or rolled back (its tick sequence). */
  inserts(table: string): Promise<number>;
  /** Audit rows of a table: one per change with its transaction's actor id and context. */
  audit(table: string): Promise<AuditRow[]>;
  close(): Promise<void>;
}

export interface AuditRow {
  id: number;
  op: string;
  actor: string | null;
  actorType: string | null;
  correlationId: string | null;
  requestId: string | null;
  jobId: string | null;
  causationId: string | null;
  source: string | null;
  meta: Record<string, unknown> | null;
  transactionId: string;
}

let tables = 0;

/**
 * A fresh database with Threadline installed and a Threadline instance on a pool of `poolSize`
 * (through PgBouncer with `options.pgbouncer`; `pool` adds node-postgres pool settings).
 */
export async function openConformanceDb(
  poolSize = 2,
  options: ConformanceOptions & { pool?: pg.PoolConfig } = {},
): Promise<ConformanceDb> {
  const server = await createTestDatabase('tl_conf');
  let bouncer: PgBouncer | null = null;
  if (options.pgbouncer) {
    bouncer = await startPgBouncer(server.url, poolSize).catch(async (error: unknown) => {
      await server.drop();
      throw error;
    });
    if (!bouncer) {
      await server.drop();
      throw new Error('pgbouncer is not installed (apt-get install -y pgbouncer)');
    }
  }
  const appUrl = bouncer?.url ?? server.url;
  const pool = server.newPool(poolSize, { connectionString: appUrl, ...options.pool });
  const tl = createThreadline({ db: pool });
  await createThreadline({ db: server.pool }).install();
  return {
    server,
    appUrl,
    pool,
    tl,
    async table() {
      tables += 1;
      const name = `conf_items_${tables}`;
      await server.pool.query(
        `create sequence ${name}_ticks; create table ${name} (id int primary key, note text, tick bigint default nextval('${name}_ticks'))`,
      );
      await tl.installTriggers({ tables: [name] });
      return name;
    },
    async inserts(table) {
      const { rows } = await server.pool.query(
        `select case when is_called then last_value else 0 end::int as n from ${table}_ticks`,
      );
      return rows[0].n as number;
    },
    async audit(table) {
      const { rows } = await server.pool.query(
        `select (c.table_pk->>'id')::int as id, c.op, t.actor_ref->>'id' as actor, t.actor_ref->>'type' as "actorType",
                t.correlation_id as "correlationId", t.request_id as "requestId", t.job_id as "jobId",
                t.causation_id as "causationId", t.source, t.meta, t.id::text as "transactionId"
           from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
          where c.table_schema = 'public' and c.table_name = $1 order by c.id`,
        [table],
      );
      return rows as AuditRow[];
    },
    async close() {
      await pool.end().catch(() => undefined);
      await bouncer?.stop();
      await server.drop();
    },
  };
}

export const testActor = (i: number | string) => ActorRef.user(`conf-${i}`);
