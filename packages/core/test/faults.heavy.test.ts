import { createTestDatabase, postgresEnabled, startThrowawayCluster } from '@threadline/test-utils';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '../src/index.js';

// SPEC §13 faults at the core: what tl.transaction does when the connection under it dies. The
// per-adapter scenarios (terminated backend, timeouts, exhausted pool) live in
// @threadline/conformance and run in each adapter's package.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function auditedTable(tl: Threadline, admin: pg.Pool) {
  await tl.install();
  await admin.query('create table items (id int primary key, actor text)');
  await tl.installTriggers({ tables: ['items'] });
}

/** Data rows and audit rows one to one, each audit row's actor the one its row was written as. */
async function expectOneToOne(admin: pg.Pool) {
  const data = await admin.query<{ id: number; actor: string }>('select id, actor from items order by id');
  const audit = await admin.query<{ id: number; actor: string }>(
    `select (c.table_pk->>'id')::int as id, t.actor_ref->>'id' as actor
       from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
      where c.table_name = 'items' order by 1`,
  );
  expect(audit.rows).toEqual(data.rows);
  return new Set(data.rows.map((r) => r.id));
}

const write = (tl: Threadline, id: number) =>
  runWithAuditContext({ actor: ActorRef.user(`a${id}`) }, () =>
    tl.transaction((tx) => tx.query('insert into items (id, actor) values ($1, $2)', [id, `a${id}`])),
  );

describe.runIf(postgresEnabled())('faults under tl.transaction', () => {
  it('a backend terminated mid-transaction: the driver error reaches the caller, the process survives, the pool recovers', async () => {
    const server = await createTestDatabase('tl_faults');
    const pool = server.newPool(1);
    const tl = createThreadline({ db: pool });
    try {
      await auditedTable(tl, server.pool);
      const doomed = runWithAuditContext({ actor: ActorRef.user('doomed') }, () =>
        tl.transaction(async (tx) => {
          await tx.query('insert into items (id, actor) values (1, $1)', ['doomed']);
          await tx.query('select pg_sleep(30)');
        }),
      );
      let pid: number | undefined;
      while (pid === undefined) {
        const { rows } = await server.pool.query(
          "select pid from pg_stat_activity where datname = current_database() and query = 'select pg_sleep(30)'",
        );
        pid = rows[0]?.pid;
        if (pid === undefined) await sleep(10);
      }
      await server.pool.query('select pg_terminate_backend($1)', [pid]);
      // node-postgres' own error, not a wrapped one; and no uncaught 'error' event from the
      // checked-out client (vitest fails the file on one).
      await expect(doomed).rejects.toMatchObject({ code: '57P01' });
      await sleep(50);
      for (let id = 2; id <= 101; id++) await write(tl, id);
      const stored = await expectOneToOne(server.pool);
      expect(stored.has(1)).toBe(false);
      expect(stored.size).toBe(100);
    } finally {
      await server.drop();
    }
  });

  it('PostgreSQL restarted (crash, recovery) under load: nothing half-written, no mis-attribution, the pool recovers', async () => {
    // synchronous_commit on: a commit the client saw must survive the crash.
    const cluster = await startThrowawayCluster({ synchronous_commit: 'on' });
    const admin = new pg.Pool({ connectionString: cluster.url(), max: 1 });
    admin.on('error', () => undefined);
    const pool = new pg.Pool({ connectionString: cluster.url(), max: 5 });
    pool.on('error', () => undefined);
    const tl = createThreadline({ db: pool });
    try {
      await auditedTable(tl, admin);
      let next = 1000;
      let running = true;
      const ok: number[] = [];
      const failures: { id: number; error: unknown }[] = [];
      const load = Array.from({ length: 10 }, async () => {
        while (running) {
          const id = next++;
          try {
            await write(tl, id);
            ok.push(id);
          } catch (error) {
            failures.push({ id, error });
            await sleep(20);
          }
        }
      });
      await sleep(300);
      const committedBefore = ok.length;
      await cluster.restart(200);
      await sleep(300);
      running = false;
      await Promise.all(load);

      expect(committedBefore).toBeGreaterThan(0);
      expect(failures.length).toBeGreaterThan(0);
      for (const { error } of failures) {
        const e = error as { code?: string; message?: string; name?: string };
        // The driver's errors (a terminated backend, a refused or reset connection), unwrapped.
        expect(e.name, String(e.message)).not.toBe('ThreadlineError');
        expect(`${e.code} ${e.message}`).toMatch(
          /57P0\d|08\d{3}|ECONNREFUSED|ECONNRESET|terminat|Connection|shutting down|starting up|recovery/i,
        );
      }
      // Every commit the application saw survived; whatever it did not see committed is either
      // wholly there (a commit whose answer was lost) or wholly absent.
      const stored = await expectOneToOne(admin);
      for (const id of ok) expect(stored.has(id), `committed row ${id} lost`).toBe(true);
      // The pool recovered: the next 100 writes (5 at a time) succeed and are attributed.
      const after = Array.from({ length: 100 }, (_, i) => 100_000 + i);
      for (let i = 0; i < after.length; i += 5)
        await Promise.all(after.slice(i, i + 5).map((id) => write(tl, id)));
      const final = await expectOneToOne(admin);
      for (const id of after) expect(final.has(id)).toBe(true);
    } finally {
      await pool.end().catch(() => undefined);
      await admin.end().catch(() => undefined);
      cluster.stop();
    }
  });
});
