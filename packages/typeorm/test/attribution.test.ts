import { ActorRef, runWithAuditContext } from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import type { EntitySubscriberInterface, TransactionStartEvent } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTypeorm, type TypeormSetup, VERSIONS } from './setup.js';

/** Issue 16: 30+ concurrent contexts on pools of 1–2, each row checked against its writer. */
const N = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const as = <T>(id: string, fn: () => Promise<T>): Promise<T> =>
  runWithAuditContext({ actor: ActorRef.user(id) }, fn);

describe.runIf(postgresEnabled()).each(VERSIONS)('%s: attribution under concurrency', (_name, orm) => {
  let s: TypeormSetup;
  beforeAll(async () => {
    s = await openTypeorm(orm, { poolSize: 2 });
  });
  afterAll(() => s?.close());

  const actorsIn = async (from: number, to: number) =>
    Object.fromEntries(
      (await s.db.audit(s.table)).filter((r) => r.id >= from && r.id < to).map((r) => [r.id, r.actor]),
    );
  const each = (from: number, actor: (i: number) => string | null) =>
    Object.fromEntries(Array.from({ length: N }, (_, i) => [from + i, actor(i)]));

  it('late tl.query and tl.recordAction after dataSource.transaction committed run in their own attributed transaction', async () => {
    const late: Promise<unknown>[] = [];
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        as(`u${i}`, () =>
          s.ds.transaction(async (m) => {
            await m.insert(s.Item, { id: i });
            late.push(
              sleep(3 + (i % 7)).then(async () => {
                await s.db.tl.query(`insert into ${s.table} (id) values ($1)`, [100 + i]);
                await s.ds.manager.insert(s.Item, { id: 200 + i });
                await s.db.tl.recordAction('late.typeorm');
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
      "select count(*)::int as n, count(distinct actor_ref->>'id')::int as actors from threadline.audit_actions where name = 'late.typeorm'",
    );
    expect(rows[0]).toEqual({ n: N, actors: N });
  });

  it('one QueryRunner shared by concurrent writes: each write is its own transaction, and a failing one takes no other row with it', async () => {
    const qr = s.ds.createQueryRunner();
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: N }, (_, i) =>
          as(`q${i}`, () => qr.manager.insert(s.Item, { id: i % 5 === 4 ? 1000 : 1000 + i })),
        ),
      );
      expect(outcomes.map((o) => o.status)).toEqual(
        Array.from({ length: N }, (_, i) => (i % 5 === 4 ? 'rejected' : 'fulfilled')),
      );
    } finally {
      await qr.release();
    }
    const ok = Array.from({ length: N }, (_, i) => i).filter((i) => i % 5 !== 4);
    expect(await actorsIn(1000, 1100)).toEqual(Object.fromEntries(ok.map((i) => [1000 + i, `q${i}`])));
  });

  it('binds before afterTransactionStart subscribers write', async () => {
    const table = s.table;
    const subscriber: EntitySubscriberInterface = {
      async afterTransactionStart(event: TransactionStartEvent) {
        const id = (event.queryRunner.data as { startId?: number }).startId;
        if (id !== undefined) await event.queryRunner.query(`insert into ${table} (id) values ($1)`, [id]);
      },
    };
    s.ds.subscribers.push(subscriber as never);
    try {
      await Promise.all(
        Array.from({ length: N }, (_, i) =>
          as(`t${i}`, async () => {
            const qr = s.ds.createQueryRunner();
            qr.data = { startId: 2000 + i };
            try {
              await qr.startTransaction();
              await qr.manager.insert(s.Item, { id: 2100 + i });
              await qr.commitTransaction();
            } finally {
              await qr.release();
            }
          }),
        ),
      );
    } finally {
      s.ds.subscribers.splice(s.ds.subscribers.indexOf(subscriber as never), 1);
    }
    expect(await actorsIn(2000, 2200)).toEqual({
      ...each(2000, (i) => `t${i}`),
      ...each(2100, (i) => `t${i}`),
    });
  });

  it('attributes writes sent through queryRunner.stream(), on its own runner, a shared runner and inside a transaction', async () => {
    const drain = async (stream: AsyncIterable<unknown>) => {
      const rows: unknown[] = [];
      for await (const row of stream) rows.push(row);
      return rows;
    };
    const insert = `insert into ${s.table} (id) values ($1) returning id`;
    const shared = s.ds.createQueryRunner();
    try {
      await Promise.all(
        Array.from({ length: N }, (_, i) => [
          as(`st${i}`, async () => {
            const runner = s.ds.createQueryRunner();
            try {
              expect(await drain(await runner.stream(insert, [5000 + i]))).toEqual([{ id: 5000 + i }]);
            } finally {
              await runner.release();
            }
          }),
          as(`st${i}`, async () => {
            expect(await drain(await shared.stream(insert, [5100 + i]))).toEqual([{ id: 5100 + i }]);
          }),
          as(`st${i}`, () =>
            s.ds.transaction(async (m) => {
              // The first statement of the transaction: the binding must precede it.
              await drain(await m.queryRunner!.stream(insert, [5200 + i]));
              await m.insert(s.Item, { id: 5300 + i });
            }),
          ),
          // A query builder's stream releases its own runner when it ends: after the COMMIT.
          as(`st${i}`, async () => {
            const qb = s.ds.getRepository(s.Item).createQueryBuilder('x').where('x.id = :id', { id: -1 });
            expect(await drain(await qb.stream())).toEqual([]);
          }),
        ]).flat(),
      );
    } finally {
      await shared.release();
    }
    expect(await actorsIn(5000, 5400)).toEqual({
      ...each(5000, (i) => `st${i}`),
      ...each(5100, (i) => `st${i}`),
      ...each(5200, (i) => `st${i}`),
      ...each(5300, (i) => `st${i}`),
    });
  });

  it('a stream of a write that the consumer stops early keeps its rows and gives the connection back idle', async () => {
    const rowsPer = 250; // more than one cursor batch (pg-query-stream reads 100)
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        as(`sb${i}`, async () => {
          const runner = s.ds.createQueryRunner();
          try {
            const base = 7000 + i * rowsPer;
            const rows = await runner.stream(
              `insert into ${s.table} (id) select $1::int + g from generate_series(0, ${rowsPer - 1}) g returning id`,
              [base],
            );
            for await (const _row of rows as unknown as AsyncIterable<unknown>) break;
          } finally {
            await runner.release();
          }
          // The pool (of 2) must not hold a connection mid-transaction: this write runs on one.
          await s.ds.manager.insert(s.Item, { id: 20000 + i });
        }),
      ),
    );
    const expected: Record<number, string> = {};
    for (let i = 0; i < N; i++) {
      for (let g = 0; g < rowsPer; g++) expected[7000 + i * rowsPer + g] = `sb${i}`;
      expected[20000 + i] = `sb${i}`;
    }
    expect(await actorsIn(7000, 20100)).toEqual(expected);
  });
});
