import { createTestDatabase, describeEachDb, postgresEnabled } from '@threadline/test-utils';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ActorRef, createThreadline, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

describeEachDb('continuity baseline under concurrent writes', (db) => {
  // PGlite has one connection: its writers and the baseline's batches take turns whole
  // transactions at a time whatever their number, and the baseline has no PGlite-only code, so the
  // race at full size runs on PostgreSQL; PGlite runs the same interleaving at a quarter the size
  // (still more than 10 batches, new rows inserted past the last one, deletes).
  const size = () =>
    db().kind === 'pglite'
      ? { writers: 8, rows: 30, batchSize: 2 }
      : { writers: 30, rows: 120, batchSize: 7 };

  it('concurrent writers (30 on PostgreSQL) during a baseline on a pool of 2: asOf(now) equals every real row afterwards', async () => {
    const { writers: writerCount, rows, batchSize } = size();
    const t = uniqueName('race');
    await db().exec(`create table ${t} (id int primary key, n int not null, email text);
      insert into ${t} select g, 0, 'e' || g || '@x' from generate_series(1, ${rows}) g;`);
    await installed(db(), { [t]: { mask: ['email'] } });
    const pool = db().server ? new pg.Pool({ connectionString: db().server!.url, max: 2 }) : undefined;
    try {
      const tl = createThreadline({ db: pool ?? db().db, tables: { [t]: { mask: ['email'] } } });
      await tl.installTriggers({ tables: [t] });
      const writers = Array.from({ length: writerCount }, (_, w) =>
        runWithAuditContext({ actor: ActorRef.user(`w${w}`), correlationId: `c${w}` }, async () => {
          for (let i = 0; i < 4; i++) {
            const id = ((w * 7 + i * 13) % (rows + 10)) + 1; // some ids past the last row: inserts of new rows
            await tl.transaction(async (tx) => {
              await tx.query(
                `insert into ${t} values ($1, 1, 'new@x') on conflict (id) do update set n = ${t}.n + 1`,
                [id],
              );
            });
            if (i === 2 && w % 5 === 0) await tl.query(`delete from ${t} where id = $1`, [id]);
          }
        }),
      );
      const baseline = tl.continuity.baseline({ table: t, batchSize, actor: ActorRef.system('ops') });
      const [result] = await Promise.all([baseline, ...writers]);
      expect(result.batches).toBeGreaterThan(10);
      const truth = await db().sql<{ id: number; n: number }>(`select id, n from ${t} order by id`);
      const later = new Date(Date.now() + 60_000);
      for (const row of truth) {
        const state = await tl.asOf(t, row.id, later);
        expect(state.status, `row ${row.id}`).toBe('found');
        if (state.status === 'found')
          expect(state.row, `row ${row.id}`).toEqual({ id: row.id, n: row.n, email: '[REDACTED]' });
      }
      const report = await tl.continuity.report({ tables: [t] });
      expect(report.tables[0]).toMatchObject({
        status: 'complete',
        rowsNow: truth.length,
        rowsWithoutHistory: 0,
      });
    } finally {
      await pool?.end();
    }
  }, 240_000); // 30 writers and a baseline; on PGlite at full size (one backend) this took ~35 s idle, 75 s at load 30
});

describe.skipIf(!postgresEnabled())('continuity baseline and an update in flight (PostgreSQL)', () => {
  it('waits for an uncommitted update of a row it records, so the baseline is never older than that update', async () => {
    const server = await createTestDatabase('tl_baseline');
    const writer = new pg.Client({ connectionString: server.url });
    await writer.connect();
    try {
      await server.pool.query('create table race (id int primary key, n int not null)');
      await server.pool.query('insert into race select g, 0 from generate_series(1, 3) g');
      const tl = createThreadline({ db: server.pool });
      await tl.install();
      await tl.installTriggers({ tables: ['race'] });
      await writer.query('begin');
      await writer.query('update race set n = 99 where id = 2');
      let settled = false;
      const baseline = tl.continuity
        .baseline({ table: 'race', actor: ActorRef.system('ops') })
        .finally(() => {
          settled = true;
        });
      // Commit only once the baseline is either done or waiting for the writer's row lock.
      for (;;) {
        const { rows } = await server.pool.query(
          "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        );
        if (settled || rows[0].n > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await writer.query('commit');
      await baseline;
      const state = await tl.asOf('race', 2, new Date(Date.now() + 60_000));
      expect(state).toMatchObject({ status: 'found', row: { id: 2, n: 99 } });
    } finally {
      await writer.end();
      await server.drop();
    }
  });
});
