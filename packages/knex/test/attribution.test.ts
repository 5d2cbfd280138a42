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
});
