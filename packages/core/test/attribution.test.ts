import { createTestDatabase, postgresEnabled, type TestDatabase } from '@threadline/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActorRef,
  createThreadline,
  runWithAuditContext,
  runWithFreshAuditContext,
  type Threadline,
} from '../src/index.js';
import { uniqueName } from './helpers.js';

/**
 * Attribution under concurrency (issue 16): 30+ contexts on pools of 1–2 connections, each
 * checked against what really happened (the actor each row was written under).
 */
const N = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(postgresEnabled())('attribution under concurrency (pg)', () => {
  let server: TestDatabase;
  beforeAll(async () => {
    server = await createTestDatabase();
    await createThreadline({ db: server.pool }).install();
  });
  afterAll(async () => {
    await server?.drop();
  });

  async function auditedTable(tl: Threadline): Promise<string> {
    const t = uniqueName('attr');
    await server.pool.query(`create table ${t} (id int primary key, note text)`);
    await tl.installTriggers({ tables: [t] });
    return t;
  }
  async function actorsById(t: string): Promise<Record<number, string | null>> {
    const { rows } = await server.pool.query(
      `select (c.table_pk->>'id')::int as id, t.actor_ref->>'id' as actor
         from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_name = $1 order by c.id`,
      [t],
    );
    return Object.fromEntries(rows.map((r) => [r.id, r.actor]));
  }
  const expected = (from: number, actor: (i: number) => string | null) =>
    Object.fromEntries(Array.from({ length: N }, (_, i) => [from + i, actor(i)]));

  it('runs late tl.query work of a committed tl.transaction in its own attributed transaction (pool of 1)', async () => {
    const tl = createThreadline({ db: server.newPool(1) });
    const t = await auditedTable(tl);
    const late: Promise<unknown>[] = [];
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        runWithAuditContext({ actor: ActorRef.user(`u${i}`) }, () =>
          tl.transaction(async (tx) => {
            await tx.query(`insert into ${t} (id) values ($1)`, [i]);
            late.push(
              sleep(5 + (i % 7)).then(() => tl.query(`insert into ${t} (id) values ($1)`, [1000 + i])),
            );
            await sleep(i % 5);
          }),
        ),
      ),
    );
    await Promise.all(late);
    expect(await actorsById(t)).toEqual({
      ...expected(0, (i) => `u${i}`),
      ...expected(1000, (i) => `u${i}`),
    });
  });

  it('links a late recordAction to no other actor’s transaction (pool of 1)', async () => {
    const tl = createThreadline({ db: server.newPool(1) });
    const t = await auditedTable(tl);
    const late: Promise<{ i: number; tx: string | null }>[] = [];
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        runWithAuditContext({ actor: ActorRef.user(`u${i}`) }, () =>
          tl.transaction(async (tx) => {
            await tx.query(`insert into ${t} (id) values ($1)`, [i]);
            late.push(
              sleep(3 + (i % 7)).then(async () => ({
                i,
                tx: (await tl.recordAction('late.action')).auditTransactionId,
              })),
            );
            await sleep(i % 5);
          }),
        ),
      ),
    );
    const results = await Promise.all(late);
    const { rows } = await server.pool.query<{ id: string; actor: string }>(
      "select id::text, actor_ref->>'id' as actor from threadline.audit_transactions",
    );
    const actorOf = new Map(rows.map((r) => [r.id, r.actor]));
    expect(results.filter((r) => r.tx !== null && actorOf.get(r.tx) !== `u${r.i}`)).toEqual([]);
    const actions = await server.pool.query<{ actor: string; n: number }>(
      "select actor_ref->>'id' as actor, count(*)::int as n from threadline.audit_actions where name = 'late.action' group by 1 order by 1",
    );
    expect(actions.rows).toEqual(
      Array.from({ length: N }, (_, i) => ({ actor: `u${i}`, n: 1 })).sort((a, b) =>
        a.actor.localeCompare(b.actor),
      ),
    );
  });

  it('refuses the transaction session after COMMIT instead of running on a returned connection', async () => {
    const tl = createThreadline({ db: server.newPool(1) });
    const t = await auditedTable(tl);
    let kept: { query(sql: string, params?: unknown[]): Promise<unknown> } | undefined;
    await runWithAuditContext({ actor: ActorRef.user('owner') }, () =>
      tl.transaction(async (tx) => {
        kept = tx;
      }),
    );
    await expect(kept!.query(`insert into ${t} (id) values (1)`)).rejects.toMatchObject({
      code: 'TRANSACTION_CLOSED',
    });
    expect(await actorsById(t)).toEqual({});
  });

  it('serializes every statement on a shared pg Client: a context-free tl.query never joins another context’s transaction', async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const tl = createThreadline({ db: client });
      const t = await auditedTable(tl);
      await Promise.all(
        Array.from({ length: N }, (_, i) => [
          runWithAuditContext({ actor: ActorRef.user(`u${i}`) }, () =>
            tl.transaction(async (tx) => {
              await tx.query(`insert into ${t} (id) values ($1)`, [i]);
              await sleep(2);
              await tx.query(`update ${t} set note = 'x' where id = $1`, [i]);
            }),
          ),
          sleep(2 * i).then(() => tl.query(`insert into ${t} (id) values ($1)`, [1000 + i])),
        ]).flat(),
      );
      expect(await actorsById(t)).toEqual({ ...expected(0, (i) => `u${i}`), ...expected(1000, () => null) });
    } finally {
      await client.end();
    }
  });

  it('refuses transaction control through tl.query on a Pool and on a Client', async () => {
    const pool = server.newPool(1);
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      for (const db of [pool, client]) {
        const tl = createThreadline({ db });
        const t = await auditedTable(tl);
        const outcomes = await Promise.allSettled(
          Array.from({ length: N }, (_, i) =>
            runWithAuditContext({ actor: ActorRef.user(`u${i}`) }, async () => {
              if (i % 3 === 0) {
                await tl.query(i % 2 === 0 ? 'begin' : 'commit');
                return;
              }
              await tl.query(`insert into ${t} (id) values ($1)`, [i]);
            }),
          ),
        );
        for (const [i, outcome] of outcomes.entries()) {
          if (i % 3 === 0)
            expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'TRANSACTION_CONTROL' } });
          else expect(outcome).toMatchObject({ status: 'fulfilled' });
        }
        const written = await actorsById(t);
        expect(written).toEqual(
          Object.fromEntries(
            Array.from({ length: N }, (_, i) => i)
              .filter((i) => i % 3 !== 0)
              .map((i) => [i, `u${i}`]),
          ),
        );
      }
    } finally {
      await client.end();
    }
  });

  it('attributes writes made inside functions, procedures, DO blocks, EXPLAIN ANALYZE and multi-statement strings', async () => {
    const tl = createThreadline({ db: server.newPool(2) });
    const t = await auditedTable(tl);
    await server.pool.query(
      `create function ${t}_fn(i int) returns int language sql as $$ insert into ${t} (id) values (i) returning id $$;
       create procedure ${t}_proc(i int) language sql as $$ insert into ${t} (id) values (i) $$;`,
    );
    const shapes: [number, (i: number) => [string, unknown[]?]][] = [
      [0, (i) => [`select ${t}_fn($1)`, [i]]],
      [100, (i) => [`call ${t}_proc($1)`, [i]]],
      [200, (i) => [`do $$ begin insert into ${t} (id) values (${i}); end $$`]],
      [300, (i) => [`explain analyze insert into ${t} (id) values (${i})`]],
      [400, (i) => [`select 1; insert into ${t} (id) values (${i})`]],
      [500, (i) => [`/* report */ with x as (select 1) select ${t}_fn($1) from x`, [i]]],
    ];
    await Promise.all(
      shapes.flatMap(([base, shape]) =>
        Array.from({ length: N }, (_, i) =>
          runWithAuditContext({ actor: ActorRef.user(`u${base + i}`) }, () => {
            const [sql, params] = shape(base + i);
            return tl.query(sql, params);
          }),
        ),
      ),
    );
    const written = await actorsById(t);
    const want = Object.fromEntries(
      shapes.flatMap(([base]) => Array.from({ length: N }, (_, i) => [base + i, `u${base + i}`])),
    );
    expect(written).toEqual(want);
  });
  it('refuses a procedure, DO block or script that commits half-way under a context, writing nothing, and runs a complete BEGIN … COMMIT script without one (Pool of 2 and a Client)', async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      for (const db of [server.newPool(2), client]) {
        const tl = createThreadline({ db });
        const t = await auditedTable(tl);
        await server.pool.query(
          `create procedure ${t}_commits(i int) language plpgsql as $$
             begin insert into ${t} (id) values (i); commit; insert into ${t} (id) values (i + 1000); end $$`,
        );
        const shapes: [string, (i: number) => Promise<unknown>][] = [
          ['TRANSACTION_CONTROL', (i) => tl.query(`call ${t}_commits($1)`, [i])],
          [
            'TRANSACTION_CONTROL',
            (i) =>
              tl.query(
                `do $$ begin insert into ${t} (id) values (${100 + i}); commit; insert into ${t} (id) values (${1100 + i}); end $$`,
              ),
          ],
          [
            'TRANSACTION_CONTROL',
            (i) =>
              tl.query(
                `insert into ${t} (id) values (${200 + i}); commit; insert into ${t} (id) values (${1200 + i})`,
              ),
          ],
          [
            'TRANSACTION_CONTROL',
            (i) => tl.query(`begin; insert into ${t} (id) values (${300 + i}); commit`),
          ],
          [
            'ok',
            (i) =>
              runWithFreshAuditContext({}, () =>
                tl.query(`begin; insert into ${t} (id) values (${400 + i}); commit;`),
              ),
          ],
          [
            'TRANSACTION_CONTROL',
            (i) =>
              runWithFreshAuditContext({}, () =>
                tl.query(`select 1; begin; insert into ${t} (id) values (${500 + i})`),
              ),
          ],
        ];
        const outcomes = await Promise.allSettled(
          Array.from({ length: N }, (_, i) =>
            shapes.map(([, run]) => runWithAuditContext({ actor: ActorRef.user(`u${i}`) }, () => run(i))),
          ).flat(),
        );
        expect(
          outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : (o.reason as { code?: string }).code)),
        ).toEqual(Array.from({ length: N }, () => shapes.map(([want]) => want)).flat());
        expect(await actorsById(t)).toEqual(expected(400, () => null));
      }
    } finally {
      await client.end();
    }
  });
});
