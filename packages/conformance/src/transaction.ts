import { ActorRef, runWithAuditContext, runWithFreshAuditContext, type Threadline } from '@threadline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConformanceDb,
  type ConformanceOptions,
  openConformanceDb,
  servicesFor,
  suiteName,
} from './fixture.js';

/** Runs one SQL statement (`$1`-style parameters) on the ORM's current transaction. */
export type Exec = (sql: string, params?: unknown[]) => Promise<unknown>;

export interface OrmTransaction {
  exec: Exec;
  /** A nested transaction (savepoint) through the ORM's own API. */
  nested<T>(fn: (tx: OrmTransaction) => Promise<T>): Promise<T>;
}

export interface OrmHandle {
  /** A transaction through the ORM's own API (knex.transaction, dataSource.transaction, ...). */
  transaction<T>(fn: (tx: OrmTransaction) => Promise<T>): Promise<T>;
  /** The same with isolation level SERIALIZABLE. */
  serializable<T>(fn: (tx: OrmTransaction) => Promise<T>): Promise<T>;
  /** One statement through the ORM outside any explicit transaction. */
  autocommit(sql: string, params: unknown[]): Promise<void>;
  /**
   * One pooled connection held by the caller, through the ORM's own API for that (a TypeORM
   * QueryRunner, knex's acquired connection with `.connection()`): statements sent through it
   * outside any transaction, possibly concurrently.
   */
  sharedConnection(): Promise<{ exec: Exec; release(): Promise<void> }>;
  /**
   * One statement through the ORM's streaming API outside any explicit transaction (knex's
   * `.stream()`, a TypeORM QueryRunner's `stream()`), its rows read to the end. Optional: an ORM
   * without streaming leaves it out and the stream cases are skipped.
   */
  stream?(sql: string, params: unknown[]): Promise<unknown[]>;
  close(): Promise<void>;
}

/** What a transaction adapter's test provides: the ORM connected with the adapter attached. */
export interface TransactionAdapterHarness {
  readonly name: string;
  /**
   * `acquireTimeoutMillis`: how long a caller waits for a pooled connection before the ORM fails
   * it (knex's acquireConnectionTimeout, node-postgres' connectionTimeoutMillis); the ORM's default
   * when absent.
   */
  open(options: {
    url: string;
    poolSize: number;
    tl: Threadline;
    acquireTimeoutMillis?: number;
  }): Promise<OrmHandle>;
}

/** The shared transaction-adapter conformance suite (real PostgreSQL). */
export function describeTransactionAdapterConformance(
  harness: TransactionAdapterHarness,
  options: ConformanceOptions = {},
): void {
  describe.runIf(servicesFor(options))(
    suiteName(`transaction adapter conformance: ${harness.name}`, options),
    () => {
      let db: ConformanceDb;
      let orm: OrmHandle;
      let table: string;
      beforeAll(async () => {
        db = await openConformanceDb(2, options);
        table = await db.table();
        orm = await harness.open({ url: db.appUrl, poolSize: 2, tl: db.tl });
      });
      afterAll(async () => {
        await orm?.close();
        await db?.close();
      });
      const insert = (tx: OrmTransaction, id: number) =>
        tx.exec(`insert into ${table} (id) values ($1)`, [id]);
      const rowsIn = async (from: number, to: number) =>
        (await db.audit(table)).filter((r) => r.id >= from && r.id < to);

      it('makes the context visible to the capture triggers', async () => {
        await runWithAuditContext(
          { actor: ActorRef.user('t1'), correlationId: 'corr-t1', requestId: 'req-t1' },
          () => orm.transaction((tx) => insert(tx, 1)),
        );
        expect(await rowsIn(1, 2)).toMatchObject([
          { actor: 't1', correlationId: 'corr-t1', requestId: 'req-t1' },
        ]);
      });

      it('binds under SERIALIZABLE too', async () => {
        await runWithAuditContext({ actor: ActorRef.user('ser') }, () =>
          orm.serializable((tx) => insert(tx, 2)),
        );
        expect(await rowsIn(2, 3)).toMatchObject([{ actor: 'ser' }]);
      });

      it('attributes 100 concurrent transactions with distinct actors on a pool of 2', async () => {
        await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            runWithAuditContext({ actor: ActorRef.user(`c${i}`) }, () =>
              orm.transaction(async (tx) => {
                await insert(tx, 100 + i);
                await new Promise((r) => setTimeout(r, Math.random() * 3));
                await tx.exec(`update ${table} set note = 'x' where id = $1`, [100 + i]);
              }),
            ),
          ),
        );
        const rows = await rowsIn(100, 200);
        expect(rows).toHaveLength(200);
        for (const row of rows) expect(row.actor).toBe(`c${row.id - 100}`);
      });

      it('never leaks a context to the next user of a pooled connection', async () => {
        await runWithAuditContext({ actor: ActorRef.user('leaky') }, () =>
          orm.transaction((tx) => insert(tx, 300)),
        );
        for (let i = 1; i <= 4; i++) await orm.transaction((tx) => insert(tx, 300 + i));
        await orm.autocommit(`insert into ${table} (id) values ($1)`, [310]);
        const rows = await rowsIn(301, 311);
        expect(rows).toHaveLength(5);
        for (const row of rows) expect(row.actor).toBeNull();
      });

      it('leaves no audit rows when the transaction rolls back', async () => {
        await expect(
          runWithAuditContext({ actor: ActorRef.user('rb') }, () =>
            orm.transaction(async (tx) => {
              await insert(tx, 400);
              throw new Error('rollback please');
            }),
          ),
        ).rejects.toThrow('rollback please');
        expect(await rowsIn(400, 401)).toHaveLength(0);
      });

      it('binds once: nested transactions keep the outer binding, rolled-back savepoints leave nothing', async () => {
        await runWithAuditContext({ actor: ActorRef.user('outer') }, () =>
          orm.transaction(async (tx) => {
            await insert(tx, 500);
            await runWithAuditContext({ actor: ActorRef.user('inner') }, () =>
              tx.nested((inner) => insert(inner, 501)),
            );
            await expect(
              tx.nested(async (inner) => {
                await insert(inner, 502);
                throw new Error('inner rollback');
              }),
            ).rejects.toThrow('inner rollback');
            await insert(tx, 503);
          }),
        );
        const rows = await rowsIn(500, 504);
        expect(rows.map((r) => [r.id, r.actor])).toEqual([
          [500, 'outer'],
          [501, 'outer'],
          [503, 'outer'],
        ]);
        expect(new Set(rows.map((r) => r.transactionId)).size).toBe(1);
      });

      it('attributes writes made outside any explicit transaction', async () => {
        await runWithAuditContext({ actor: ActorRef.user('auto') }, () =>
          orm.autocommit(`insert into ${table} (id) values ($1)`, [600]),
        );
        expect(await rowsIn(600, 601)).toMatchObject([{ actor: 'auto' }]);
      });

      const N = 30;
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const actorsById = async (from: number, to: number) =>
        Object.fromEntries((await rowsIn(from, to)).map((r) => [r.id, r.actor]));
      const each = (from: number, actor: (i: number) => string | null) =>
        Object.fromEntries(Array.from({ length: N }, (_, i) => [from + i, actor(i)]));

      it('attributes work left behind by a committed transaction to its own actor (30 contexts)', async () => {
        const late: Promise<unknown>[] = [];
        await Promise.all(
          Array.from({ length: N }, (_, i) =>
            runWithAuditContext({ actor: ActorRef.user(`late${i}`) }, () =>
              orm.transaction(async (tx) => {
                await insert(tx, 700 + i);
                late.push(
                  sleep(2 + (i % 5)).then(async () => {
                    await db.tl.query(`insert into ${table} (id) values ($1)`, [800 + i]);
                    await orm.autocommit(`insert into ${table} (id) values ($1)`, [900 + i]);
                    await db.tl.recordAction('conformance.late');
                  }),
                );
              }),
            ),
          ),
        );
        await Promise.all(late);
        expect(await actorsById(700, 1000)).toEqual({
          ...each(700, (i) => `late${i}`),
          ...each(800, (i) => `late${i}`),
          ...each(900, (i) => `late${i}`),
        });
        const { rows } = await db.pool.query(
          "select actor_ref->>'id' as actor from threadline.audit_actions where name = 'conformance.late' order by 1",
        );
        expect(rows.map((r) => r.actor)).toEqual(Array.from({ length: N }, (_, i) => `late${i}`).sort());
      });

      it('concurrent writes through one shared connection never share a transaction (30 contexts)', async () => {
        const shared = await orm.sharedConnection();
        let outcomes: PromiseSettledResult<unknown>[];
        try {
          outcomes = await Promise.allSettled(
            Array.from({ length: N }, (_, i) =>
              runWithAuditContext({ actor: ActorRef.user(`sh${i}`) }, () =>
                // Every fifth write is a duplicate key: it fails alone, taking no other row with it.
                shared.exec(`insert into ${table} (id) values ($1)`, [i % 5 === 4 ? 1000 : 1000 + i]),
              ),
            ),
          );
        } finally {
          await shared.release();
        }
        expect(outcomes.map((o) => o.status)).toEqual(
          Array.from({ length: N }, (_, i) => (i % 5 === 4 ? 'rejected' : 'fulfilled')),
        );
        const ok = Array.from({ length: N }, (_, i) => i).filter((i) => i % 5 !== 4);
        expect(await actorsById(1000, 1100)).toEqual(Object.fromEntries(ok.map((i) => [1000 + i, `sh${i}`])));
      });

      it('attributes writes made inside functions, procedures, DO blocks, EXPLAIN ANALYZE and multi-statement strings', async () => {
        await db.pool.query(
          `create or replace function ${table}_fn(i int) returns int language sql as $$ insert into ${table} (id) values (i) returning id $$;
         create or replace procedure ${table}_proc(i int) language sql as $$ insert into ${table} (id) values (i) $$;`,
        );
        const shapes: [number, (i: number) => [string, unknown[]]][] = [
          [2000, (i) => [`select ${table}_fn($1)`, [i]]],
          [2100, (i) => [`call ${table}_proc($1)`, [i]]],
          [2200, (i) => [`do $$ begin insert into ${table} (id) values (${i}); end $$`, []]],
          [2300, (i) => [`explain analyze insert into ${table} (id) values (${i})`, []]],
          [2400, (i) => [`select 1; insert into ${table} (id) values (${i})`, []]],
        ];
        await Promise.all(
          shapes.flatMap(([base, shape]) =>
            Array.from({ length: N }, (_, i) =>
              runWithAuditContext({ actor: ActorRef.user(`fn${base + i}`) }, () =>
                orm.autocommit(...shape(base + i)),
              ),
            ),
          ),
        );
        expect(await actorsById(2000, 2500)).toEqual(
          Object.fromEntries(
            shapes.flatMap(([base]) => Array.from({ length: N }, (_, i) => [base + i, `fn${base + i}`])),
          ),
        );
      });

      it('attributes a transaction, an autocommit write and a function call in each of 30 concurrent contexts', async () => {
        // Moved here from the knex and TypeORM attribution tests, where it ran through PgBouncer
        // only; the suite runs it directly and through PgBouncer (transaction pooling).
        await db.pool.query(
          `create or replace function ${table}_mix(i int) returns int language sql as $$ insert into ${table} (id) values (i) returning id $$`,
        );
        await Promise.all(
          Array.from({ length: N }, (_, i) =>
            runWithAuditContext({ actor: ActorRef.user(`mx${i}`) }, async () => {
              await orm.transaction((tx) => insert(tx, 5000 + i));
              await orm.autocommit(`insert into ${table} (id) values ($1)`, [5100 + i]);
              await orm.autocommit(`select ${table}_mix($1)`, [5200 + i]);
            }),
          ),
        );
        expect(await actorsById(5000, 5300)).toEqual({
          ...each(5000, (i) => `mx${i}`),
          ...each(5100, (i) => `mx${i}`),
          ...each(5200, (i) => `mx${i}`),
        });
      });

      it('refuses, writing nothing, a procedure or script that commits half-way under a context; runs a complete BEGIN … COMMIT script without one (30 contexts)', async () => {
        await db.pool.query(
          `create or replace procedure ${table}_commits(i int) language plpgsql as $$
           begin insert into ${table} (id) values (i); commit; insert into ${table} (id) values (i + 1000); end $$`,
        );
        const outcomes = await Promise.allSettled(
          Array.from({ length: N }, (_, i) => [
            runWithAuditContext({ actor: ActorRef.user(`tc${i}`) }, () =>
              orm.autocommit(`call ${table}_commits($1)`, [3000 + i]),
            ),
            runWithAuditContext({ actor: ActorRef.user(`tc${i}`) }, () =>
              orm.autocommit(
                `insert into ${table} (id) values (${3100 + i}); commit; insert into ${table} (id) values (${3200 + i})`,
                [],
              ),
            ),
            runWithFreshAuditContext({}, () =>
              orm.autocommit(`begin; insert into ${table} (id) values (${3300 + i}); commit;`, []),
            ),
            runWithFreshAuditContext({}, () =>
              orm.autocommit(
                `insert into ${table} (id) values (${3400 + i}); begin; insert into ${table} (id) values (${3500 + i})`,
                [],
              ),
            ),
          ]).flat(),
        );
        const kinds = outcomes.map((o) =>
          o.status === 'fulfilled' ? 'ok' : ((o.reason as { code?: string }).code ?? String(o.reason)),
        );
        expect(kinds).toEqual(
          Array.from({ length: N }, () => [
            'TRANSACTION_CONTROL',
            'TRANSACTION_CONTROL',
            'ok',
            'TRANSACTION_CONTROL',
          ]).flat(),
        );
        // Nothing of a refused statement was kept; the complete script ran, with no actor to record.
        expect(await actorsById(3000, 5000)).toEqual(each(3300, () => null));
      });

      it('attributes writes sent through a stream next to transactions, refusing none (30 contexts, pool of 2)', async (ctx) => {
        const stream = orm.stream;
        if (!stream) return ctx.skip();
        const outcomes = await Promise.allSettled(
          Array.from({ length: N }, (_, i) => [
            runWithAuditContext({ actor: ActorRef.user(`sm${i}`) }, async () => {
              const rows = await stream.call(orm, `insert into ${table} (id) values ($1) returning id`, [
                6000 + i,
              ]);
              expect(rows).toEqual([{ id: 6000 + i }]);
              await orm.autocommit(`insert into ${table} (id) values ($1)`, [6100 + i]);
            }),
            runWithAuditContext({ actor: ActorRef.user(`sm${i}`) }, () =>
              orm.transaction(async (tx) => {
                await insert(tx, 6200 + i);
                await sleep(1);
                await tx.exec(`update ${table} set note = 'x' where id = $1`, [6200 + i]);
              }),
            ),
          ]).flat(),
        );
        expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
        expect(await actorsById(6000, 6300)).toEqual({
          ...each(6000, (i) => `sm${i}`),
          ...each(6100, (i) => `sm${i}`),
          ...each(6200, (i) => `sm${i}`),
        });
      });
    },
  );
}
