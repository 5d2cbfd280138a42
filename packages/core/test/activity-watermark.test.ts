import { createTestDatabase, postgresEnabled, startThrowawayCluster } from '@threadline/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createThreadline, type Threadline } from '../src/index.js';

// The activity rollup against concurrent sessions (query/activity-ddl.ts): what a refresh counts
// must never depend on which session it can see or on the order of its snapshot and a purge.

/** Per-hour counts of [from, to) from tl.activity, and straight from audit_changes. */
async function both(tl: Threadline, pool: pg.Pool, from: string, to: string) {
  const got = (await tl.activity({ from, to, bucket: 'hour' })).buckets
    .filter((b) => b.changes > 0)
    .map((b) => `${b.start} ${b.changes}/${b.transactions}`);
  const { rows } = await pool.query<{ k: string }>(
    `select to_char(h, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' ' || n || '/' || t as k from (
        select date_trunc('hour', captured_at at time zone 'UTC') as h, count(*) as n, count(distinct transaction_id) as t
          from threadline.audit_changes where captured_at >= $1 and captured_at <= $2 group by 1) x order by h`,
    [from, to],
  );
  return { got, want: rows.map((r) => r.k) };
}

const DELETE_BATCH = `WITH doomed AS (
    SELECT captured_at, id FROM threadline.audit_changes WHERE captured_at < $1 ORDER BY captured_at, id LIMIT 1000
  ), gone AS (
    DELETE FROM threadline.audit_changes c USING doomed d WHERE c.captured_at = d.captured_at AND c.id = d.id
    RETURNING c.captured_at
  )
  SELECT count(*)::int AS n, threadline.activity_forget(min(captured_at), max(captured_at)) AS forgot FROM gone`;

describe.runIf(postgresEnabled())('activity rollup with concurrent sessions', () => {
  let server: Awaited<ReturnType<typeof createTestDatabase>>;
  let tl: Threadline;
  const clients: pg.Client[] = [];
  const client = async () => {
    const c = new pg.Client({ connectionString: server.url });
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  };
  const from = '2026-01-01T00:00:00Z';
  const to = '2026-01-03T00:00:00Z';

  beforeAll(async () => {
    server = await createTestDatabase('tl_actwm');
    await server.pool.query('create table wa (id bigserial primary key, v int)');
    tl = createThreadline({ db: server.pool });
    await tl.install();
    await tl.installTriggers({ tables: ['wa'] });
  });
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    await server?.drop();
  });

  async function seed() {
    await server.pool.query(
      'truncate threadline.audit_changes, threadline.activity_hours, threadline.activity_rollup, threadline.activity_forgets',
    );
    await server.pool.query(`insert into wa (v) select g from generate_series(1, 300) g`);
    await server.pool.query(`update threadline.audit_changes
      set captured_at = timestamptz '2026-01-01T00:00:00Z' + (id % 48) * interval '1 hour' + interval '7 minutes'`);
  }

  it('a repeatable-read refresh whose snapshot predates a purge batch does not keep the deleted rows', async () => {
    await seed();
    const purger = await client();
    const refresher = await client();
    await refresher.query('begin isolation level repeatable read');
    await refresher.query('select 1'); // the snapshot: before the purge commits
    await purger.query('begin');
    const batch = await purger.query(DELETE_BATCH, ['2026-01-02T00:00:00Z']);
    expect(batch.rows[0].n).toBeGreaterThan(100);
    await purger.query('commit');
    expect((await refresher.query('select threadline.activity_refresh() as n')).rows[0].n).toBeGreaterThan(
      24,
    );
    await refresher.query('commit');
    const now = await both(tl, server.pool, from, to);
    expect(now.got).toEqual(now.want);
    // The next refresh recounts the purged hours: still the same.
    await server.pool.query('select threadline.activity_refresh()');
    const later = await both(tl, server.pool, from, to);
    expect(later.got).toEqual(later.want);
  });

  it("a purge batch's forget does not wait for a refresh in progress", async () => {
    await seed();
    const refresher = await client();
    const purger = await client();
    await refresher.query('begin');
    await refresher.query('select threadline.activity_refresh()');
    // Would wait until the refresh commits if forget took the refresh's lock.
    await purger.query(`set lock_timeout = '200ms'`);
    await purger.query('begin');
    const batch = await purger.query(DELETE_BATCH, ['2026-01-01T12:00:00Z']);
    expect(batch.rows[0].n).toBeGreaterThan(10);
    await purger.query('commit');
    await refresher.query('commit');
    const now = await both(tl, server.pool, from, to);
    expect(now.got).toEqual(now.want);
  });

  it('an open transaction of another session is counted once it commits, whenever the refresh ran', async () => {
    await seed();
    await server.pool.query('select threadline.activity_refresh()');
    const writer = await client();
    await writer.query('begin');
    await writer.query(`insert into wa (v) select g from generate_series(1, 7) g`);
    // As if its statement had started in an hour that has ended (captured_at is the statement's start).
    await writer.query(`update threadline.audit_changes set captured_at = timestamptz '2026-01-01T05:30:00Z'
      where transaction_id = threadline.current_transaction_id()`);
    await server.pool.query('select threadline.activity_refresh()');
    await writer.query('commit');
    const now = await both(tl, server.pool, from, to);
    expect(now.got).toEqual(now.want);
    await server.pool.query('select threadline.activity_refresh()');
    const later = await both(tl, server.pool, from, to);
    expect(later.got).toEqual(later.want);
  });
});

describe.runIf(postgresEnabled())('activity rollup and prepared transactions', () => {
  it('a prepared transaction (not in pg_stat_activity) is counted after COMMIT PREPARED', async () => {
    const cluster = await startThrowawayCluster({ max_prepared_transactions: '5' });
    const pool = new pg.Pool({ connectionString: cluster.url(), max: 3 });
    pool.on('error', () => undefined);
    const writer = new pg.Client({ connectionString: cluster.url() });
    writer.on('error', () => undefined);
    try {
      await pool.query('create table pa (id bigserial primary key, v int)');
      const tl = createThreadline({ db: pool });
      await tl.install();
      await tl.installTriggers({ tables: ['pa'] });
      await pool.query(`insert into pa (v) select g from generate_series(1, 10) g`);
      await pool.query(`update threadline.audit_changes set captured_at = captured_at - interval '3 hours'`);
      await writer.connect();
      await writer.query('begin');
      await writer.query(`insert into pa (v) select g from generate_series(1, 7) g`);
      await writer.query(`update threadline.audit_changes
        set captured_at = date_trunc('hour', now()) - interval '2 hours' + interval '10 minutes'
        where transaction_id = threadline.current_transaction_id()`);
      await writer.query(`prepare transaction 'tl_activity_2pc'`);
      expect((await tl.storage.maintain()).activityHours).toBeGreaterThan(0);
      await writer.query(`commit prepared 'tl_activity_2pc'`);
      const now = new Date().toISOString();
      const start = new Date(Date.now() - 5 * 3_600_000).toISOString();
      const before = await both(tl, pool, start, now);
      expect(before.got).toEqual(before.want);
      await tl.storage.maintain();
      const after = await both(tl, pool, start, now);
      expect(after.got).toEqual(after.want);
    } finally {
      await writer.query(`rollback prepared 'tl_activity_2pc'`).catch(() => undefined);
      await writer.end().catch(() => undefined);
      await pool.end();
      cluster.stop();
    }
  });
});
