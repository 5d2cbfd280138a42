import { describeEachDb, isCiValue, REQUIRE_SERVICES, startPgBouncer } from '@threadline/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '../src/index.js';
import { uniqueName } from './helpers.js';

async function attributionRun(
  tl: Threadline,
  sql: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>,
  n: number,
) {
  const t = uniqueName('conc');
  await sql(`create table ${t} (id int primary key, v int)`);
  await tl.installTriggers({ tables: [t] });
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      runWithAuditContext({ actor: ActorRef.user(`u${i}`), correlationId: `c${i}` }, () =>
        tl.transaction(async (tx) => {
          await tx.query(`insert into ${t} values ($1, 0)`, [i]);
          await new Promise((r) => setTimeout(r, Math.random() * 5));
          await tx.query(`update ${t} set v = v + 1 where id = $1`, [i]);
        }),
      ),
    ),
  );
  const rows = await sql(
    `select (c.table_pk->>'id')::int as id, t.actor_ref->>'id' as actor, t.correlation_id as corr, count(*)::int as n
       from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
      where c.table_name = $1 group by 1, 2, 3 order by 1`,
    [t],
  );
  return { t, rows };
}

describeEachDb(
  'concurrency and pooling',
  (db) => {
    it('attributes 50 concurrent transactions with 50 actors on a pool of 4', async () => {
      const pool = db().server!.newPool(4);
      const tl = createThreadline({ db: pool });
      await tl.install();
      const { rows } = await attributionRun(tl, (text, params) => db().sql(text, params), 50);
      expect(rows).toEqual(
        Array.from({ length: 50 }, (_, i) => ({ id: i, actor: `u${i}`, corr: `c${i}`, n: 2 })),
      );
    });

    it('never carries a context into the next transaction on a pooled connection', async () => {
      const pool = db().server!.newPool(1);
      const tl = createThreadline({ db: pool });
      await tl.install();
      const t = uniqueName('leak');
      await db().exec(`create table ${t} (id int primary key)`);
      await tl.installTriggers({ tables: [t] });
      const first = await runWithAuditContext({ actor: ActorRef.user('first'), correlationId: 'c1' }, () =>
        tl.transaction((tx) => tx.query(`insert into ${t} values (1)`)),
      );
      const second = await tl.transaction((tx) => tx.query(`insert into ${t} values (2)`));
      await pool.query(`insert into ${t} values (3)`);
      const raw = await pool.query<{ a: string | null; c: string | null; x: string | null }>(
        "select current_setting('threadline.actor_ref', true) as a, current_setting('threadline.context', true) as c, current_setting('threadline.transaction', true) as x",
      );
      expect(raw.rows[0]).toEqual({ a: '', c: '', x: '' });
      expect(second.auditTransactionId).not.toBe(first.auditTransactionId);
      const rows = await db().sql<{ actor: unknown; corr: unknown }>(
        `select t.actor_ref as actor, t.correlation_id as corr from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id where c.table_name = $1 order by c.id`,
        [t],
      );
      expect(rows).toEqual([
        { actor: { type: 'user', id: 'first' }, corr: 'c1' },
        { actor: null, corr: null },
        { actor: null, corr: null },
      ]);
    });
  },
  ['postgres'],
);

describe.runIf(process.env.TL_PG_AVAILABLE !== '0')('behind PgBouncer in transaction mode', () => {
  let bouncer: Awaited<ReturnType<typeof startPgBouncer>>;
  let server: import('@threadline/test-utils').TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    const { createTestDatabase } = await import('@threadline/test-utils');
    server = await createTestDatabase();
    bouncer = await startPgBouncer(server.url, 4);
    if (!bouncer && REQUIRE_SERVICES) throw new Error('pgbouncer is required under CI=true');
    if (bouncer) pool = new pg.Pool({ connectionString: bouncer.url, max: 20 });
  });
  afterAll(async () => {
    await pool?.end();
    await bouncer?.stop();
    await server?.drop();
  });

  it('is a real transaction pooler: session state set by one client is seen by another', async (ctx) => {
    if (!bouncer) ctx.skip();
    // A bouncer with one server connection: whatever one client leaves in the session, the next
    // client sees. On a direct connection (two sessions) the second client never sees it.
    const single = await startPgBouncer(server.url, 1);
    const [setter, reader] = [
      new pg.Client({ connectionString: single!.url }),
      new pg.Client({ connectionString: single!.url }),
    ];
    try {
      await setter.connect();
      await reader.connect();
      await setter.query("select set_config('tl.leak', 'leaked', false)");
      const seen = await reader.query("select current_setting('tl.leak', true) as v");
      expect(seen.rows).toEqual([{ v: 'leaked' }]);
    } finally {
      await setter.end();
      await reader.end();
      await single?.stop();
    }
  });

  it('attributes tl.query writes and recordAction to their own actors through the pooler (30 contexts)', async (ctx) => {
    if (!bouncer) ctx.skip();
    const small = new pg.Pool({ connectionString: bouncer!.url, max: 2 });
    const tl = createThreadline({ db: small });
    await tl.install();
    const t = `bouncer_q_${process.pid}`;
    await pool.query(`create table ${t} (id int primary key)`);
    await tl.installTriggers({ tables: [t] });
    const linked = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        runWithAuditContext({ actor: ActorRef.user(`b${i}`) }, async () => {
          await tl.query(`insert into ${t} (id) values ($1)`, [i]);
          await tl.query('select 1');
          return tl.transaction(async () => (await tl.recordAction('bouncer.action')).auditTransactionId);
        }),
      ),
    );
    const rows = await pool.query(
      `select (c.table_pk->>'id')::int as id, t.actor_ref->>'id' as actor from threadline.audit_changes c
         join threadline.audit_transactions t on t.id = c.transaction_id where c.table_name = $1 order by 1`,
      [t],
    );
    expect(rows.rows).toEqual(Array.from({ length: 30 }, (_, i) => ({ id: i, actor: `b${i}` })));
    const actions = await pool.query(
      "select t.id::text as tx, t.actor_ref->>'id' as actor from threadline.audit_actions a join threadline.audit_transactions t on t.id = a.transaction_id where a.name = 'bouncer.action'",
    );
    const actorOf = new Map(actions.rows.map((r) => [r.tx, r.actor]));
    expect(linked.map((tx) => actorOf.get(tx.result))).toEqual(Array.from({ length: 30 }, (_, i) => `b${i}`));
    await small.end();
  });

  it('gives the same attribution results as a direct connection', async (ctx) => {
    if (!bouncer) ctx.skip();
    const tl = createThreadline({ db: pool });
    await tl.install();
    const { t, rows } = await attributionRun(
      tl,
      async (text, params) => (await pool.query(text, params)).rows,
      50,
    );
    expect(rows).toEqual(
      Array.from({ length: 50 }, (_, i) => ({ id: i, actor: `u${i}`, corr: `c${i}`, n: 2 })),
    );
    // Unbound writes after all that traffic carry no actor.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => pool.query(`insert into ${t} values ($1, 0)`, [1000 + i])),
    );
    const unbound = await pool.query(
      `select count(*)::int as n from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_name = $1 and (c.table_pk->>'id')::int >= 1000 and t.actor_ref is null`,
      [t],
    );
    expect(unbound.rows[0].n).toBe(10);
  });
});

describe('CI detection', () => {
  it('counts any non-empty CI value except false and 0, case-insensitive', () => {
    expect(['true', 'True', 'TRUE', '1', 'yes', 'github-actions'].map(isCiValue)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect([undefined, '', '  ', 'false', 'False', '0'].map(isCiValue)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
