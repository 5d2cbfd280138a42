import { ActorRef, runWithAuditContext } from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KnexSetup, openKnex, VERSIONS } from './setup.js';

/** Issue 16: 30+ concurrent contexts on pools of 1–2, each row checked against its writer. */
const N = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const as = <T>(id: string, fn: () => PromiseLike<T>): Promise<T> =>
  runWithAuditContext({ actor: ActorRef.user(id) }, async () => await fn());

describe.runIf(postgresEnabled()).each(VERSIONS)('%s: attribution under concurrency', (_name, factory) => {
  let s: KnexSetup;
  let knex: Knex;
  beforeAll(async () => {
    s = await openKnex(factory, 2);
    knex = s.knex;
  });
  afterAll(() => s?.close());

  const actorsIn = async (from: number, to: number) =>
    Object.fromEntries(
      (await s.db.audit(s.table)).filter((r) => r.id >= from && r.id < to).map((r) => [r.id, r.actor]),
    );
  const each = (from: number, actor: (i: number) => string | null) =>
    Object.fromEntries(Array.from({ length: N }, (_, i) => [from + i, actor(i)]));

  it('late tl.query and tl.recordAction after knex.transaction committed run in their own attributed transaction', async () => {
    const late: Promise<unknown>[] = [];
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        as(`u${i}`, () =>
          knex.transaction(async (trx) => {
            await trx(s.table).insert({ id: i });
            late.push(
              sleep(3 + (i % 7)).then(async () => {
                await s.db.tl.query(`insert into ${s.table} (id) values ($1)`, [100 + i]);
                await knex(s.table).insert({ id: 200 + i });
                await s.db.tl.recordAction('late.knex');
              }),
            );
          }),
        ),
      ),
    );
    await Promise.all(late);
    expect(await actorsIn(0, 300)).toEqual({
      ...each(0, (i) => `u${i}`),
      ...each(100, (i) => `u${i}`),
      ...each(200, (i) => `u${i}`),
    });
    const { rows } = await s.db.pool.query(
      "select count(*)::int as n, count(distinct actor_ref->>'id')::int as actors from threadline.audit_actions where name = 'late.knex'",
    );
    expect(rows[0]).toEqual({ n: N, actors: N });
  });

  it('refuses transaction control hidden behind comments (commit /* ; */, begin -- x;y, start /**/ transaction)', async () => {
    const tries = ['commit /* ; */', 'begin -- x;y\n', 'start /**/ transaction', 'begin -- ;x'];
    const codes = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        as(`cc${i}`, async () => {
          const code = await Promise.resolve(knex.raw(tries[i % tries.length]!)).then(
            () => 'ran',
            (e: { code?: string }) => e.code,
          );
          await knex(s.table).insert({ id: 8000 + i });
          return code;
        }),
      ),
    );
    expect(codes).toEqual(Array(N).fill('TRANSACTION_CONTROL'));
    expect(await actorsIn(8000, 8100)).toEqual(each(8000, (i) => `cc${i}`));
  });

  it('attributes writes inside functions, procedures, DO blocks, EXPLAIN ANALYZE and multi-statement strings', async () => {
    await s.db.pool.query(
      `create or replace function ${s.table}_fn(i int) returns int language sql as $$ insert into ${s.table} (id) values (i) returning id $$;
       create or replace procedure ${s.table}_proc(i int) language sql as $$ insert into ${s.table} (id) values (i) $$;`,
    );
    const shapes: [number, (i: number) => [string, Knex.RawBinding[]]][] = [
      [1000, (i) => [`select ${s.table}_fn(?)`, [i]]],
      [1100, (i) => [`call ${s.table}_proc(?)`, [i]]],
      [1200, (i) => [`do $$ begin insert into ${s.table} (id) values (${i}); end $$`, []]],
      [1300, (i) => [`explain analyze insert into ${s.table} (id) values (${i})`, []]],
      [1400, (i) => [`select 1; insert into ${s.table} (id) values (${i})`, []]],
    ];
    await Promise.all(
      shapes.flatMap(([base, shape]) =>
        Array.from({ length: N }, (_, i) => as(`f${base + i}`, () => knex.raw(...shape(base + i)))),
      ),
    );
    const want = Object.fromEntries(
      shapes.flatMap(([base]) => Array.from({ length: N }, (_, i) => [base + i, `f${base + i}`])),
    );
    expect(await actorsIn(1000, 1500)).toEqual(want);
  });

  it('attributes writes sent through .stream()', async () => {
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        as(`s${i}`, async () => {
          const ids: unknown[] = [];
          for await (const row of knex(s.table)
            .insert({ id: 2000 + i })
            .returning('id')
            .stream())
            ids.push(row);
          expect(ids).toEqual([{ id: 2000 + i }]);
        }),
      ),
    );
    expect(await actorsIn(2000, 2100)).toEqual(each(2000, (i) => `s${i}`));
  });

  it('streams next to transactions on a pool of 2: every write runs, each under its own actor', async () => {
    // knex releases a streamed connection twice (where it acquired it, and from the stream's
    // 'close' event, even for a transaction's connection): the pool then gives one connection to
    // two callers. Nothing may be refused or recorded under another actor.
    const outcomes = await Promise.allSettled(
      Array.from({ length: N * 2 }, (_, i) =>
        as(`m${i}`, async () => {
          if (i % 3 === 0) {
            for await (const _row of knex(s.table).select('id').limit(1).stream()) void _row;
            await knex(s.table).insert({ id: 3000 + i });
          } else if (i % 3 === 1) {
            await knex.transaction(async (trx) => {
              await trx(s.table).insert({ id: 3000 + i });
              await sleep(1);
              await trx(s.table)
                .where({ id: 3000 + i })
                .update({ note: 'x' });
            });
          } else {
            await knex.transaction(async (trx) => {
              for await (const _row of trx(s.table).select('id').limit(1).stream()) void _row;
              await sleep(1);
              await trx(s.table).insert({ id: 3000 + i });
            });
          }
        }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    const rows = (await s.db.audit(s.table)).filter((r) => r.id >= 3000 && r.id < 3100);
    expect(
      Object.fromEntries(rows.filter((r) => r.op.toLowerCase() === 'insert').map((r) => [r.id, r.actor])),
    ).toEqual(Object.fromEntries(Array.from({ length: N * 2 }, (_, i) => [3000 + i, `m${i}`])));
  });

  it('callers sharing one connection never share a transaction: a failing write does not take another’s row with it', async () => {
    const connection = await knex.client.acquireConnection();
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: N }, (_, i) =>
          as(`c${i}`, () =>
            knex
              .raw(`insert into ${s.table} (id) values (?)`, [i % 5 === 4 ? 4000 : 4000 + i])
              .connection(connection),
          ),
        ),
      );
      expect(outcomes.map((o) => o.status)).toEqual(
        Array.from({ length: N }, (_, i) => (i % 5 === 4 ? 'rejected' : 'fulfilled')),
      );
    } finally {
      await knex.client.releaseConnection(connection);
    }
    const ok = Array.from({ length: N }, (_, i) => i).filter((i) => i % 5 !== 4);
    expect(await actorsIn(4000, 4100)).toEqual(Object.fromEntries(ok.map((i) => [4000 + i, `c${i}`])));
  });
});

describe.runIf(postgresEnabled())('knex through PgBouncer (transaction pooling)', () => {
  it('attributes transactions, autocommit writes and function calls of 30 contexts to their own actors', async (ctx) => {
    const { openConformanceDb } = await import('@threadline/conformance');
    const { REQUIRE_SERVICES, startPgBouncer } = await import('@threadline/test-utils');
    const { connect } = await import('./setup.js');
    const db = await openConformanceDb(2);
    const bouncer = await startPgBouncer(db.server.url, 2);
    if (!bouncer) {
      await db.close();
      if (REQUIRE_SERVICES) throw new Error('pgbouncer is required under CI');
      ctx.skip();
      return;
    }
    const knex = connect(VERSIONS[0]![1], bouncer.url, 2, db.tl);
    try {
      const table = await db.table();
      await db.server.pool.query(
        `create function ${table}_fn(i int) returns int language sql as $$ insert into ${table} (id) values (i) returning id $$`,
      );
      await Promise.all(
        Array.from({ length: N }, (_, i) =>
          as(`p${i}`, async () => {
            await knex.transaction((trx) => trx(table).insert({ id: i }));
            await knex(table).insert({ id: 100 + i });
            await knex.raw(`select ${table}_fn(?)`, [200 + i]);
          }),
        ),
      );
      const rows = (await db.audit(table)).map((r) => [r.id, r.actor]);
      expect(Object.fromEntries(rows)).toEqual(
        Object.fromEntries(
          [0, 100, 200].flatMap((base) => Array.from({ length: N }, (_, i) => [base + i, `p${i}`])),
        ),
      );
    } finally {
      await knex.destroy();
      await bouncer.stop();
      await db.close();
    }
  });
});
