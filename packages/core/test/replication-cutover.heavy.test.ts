import { postgresEnabled, startThrowawayCluster, type ThrowawayCluster } from '@threadline/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createThreadline } from '../src/index.js';

const run = postgresEnabled() ? describe : describe.skip;

async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 300; i += 1) {
    const v = await probe();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

run('logical-replication cutover (throwaway publisher and subscriber clusters)', () => {
  let publisher: ThrowawayCluster | undefined;
  let subscriber: ThrowawayCluster | undefined;
  beforeAll(async () => {
    publisher = await startThrowawayCluster({ wal_level: 'logical' });
    subscriber = await startThrowawayCluster();
  }, 120_000);
  afterAll(() => {
    publisher?.stop();
    subscriber?.stop();
  });

  it('after cutover, install moves the id sequences past the replicated ids and audited writes work', async () => {
    const setup = `CREATE TABLE accounts (id int PRIMARY KEY, owner text)`;
    const src = new pg.Client({ connectionString: publisher!.url() });
    const dst = new pg.Client({ connectionString: subscriber!.url() });
    await src.connect();
    await dst.connect();
    try {
      for (const c of [src, dst]) {
        await c.query(setup);
        const tl = createThreadline({ db: c, tables: { accounts: {} } });
        await tl.install();
        await tl.installTriggers();
      }
      await src.query("INSERT INTO accounts VALUES (1, 'ann'), (2, 'bob')");
      await src.query("UPDATE accounts SET owner = 'bea' WHERE id = 2");
      await src.query(
        'CREATE PUBLICATION cutover FOR TABLE accounts, threadline.audit_transactions, threadline.audit_changes, threadline.audit_actions',
      );
      await dst.query(
        `CREATE SUBSCRIPTION cutover CONNECTION 'host=127.0.0.1 port=${publisher!.port} dbname=postgres user=postgres' PUBLICATION cutover`,
      );
      // Every table copied and streaming (each table has its own sync worker).
      await until(
        async () =>
          (
            await dst.query<{ pending: number; changes: number; txns: number }>(
              `SELECT (SELECT count(*)::int FROM pg_subscription_rel WHERE srsubstate <> 'r') AS pending,
                      (SELECT count(*)::int FROM threadline.audit_changes) AS changes,
                      (SELECT count(*)::int FROM threadline.audit_transactions) AS txns`,
            )
          ).rows[0]!,
        (s) => s.pending === 0 && s.changes === 3 && s.txns === 2,
        'the audit rows to replicate',
      );
      // Cutover: stop replicating, the subscriber becomes the primary.
      await dst.query('ALTER SUBSCRIPTION cutover DISABLE');
      await dst.query('ALTER SUBSCRIPTION cutover SET (slot_name = NONE)');
      await dst.query('DROP SUBSCRIPTION cutover');
      await createThreadline({ db: dst }).install();
      await dst.query("INSERT INTO accounts VALUES (3, 'cy')");
      const { rows } = await dst.query<{ id: string; owner: string; n: number }>(
        `SELECT c.table_pk->>'id' AS id, c.data_after->>'owner' AS owner,
                (SELECT count(DISTINCT transaction_id)::int FROM threadline.audit_changes) AS n
           FROM threadline.audit_changes c ORDER BY c.id`,
      );
      expect(rows).toEqual([
        { id: '1', owner: 'ann', n: 3 },
        { id: '2', owner: 'bob', n: 3 },
        { id: '2', owner: 'bea', n: 3 },
        { id: '3', owner: 'cy', n: 3 },
      ]);
      await src.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots');
    } finally {
      await src.end();
      await dst.end();
    }
  }, 120_000);

  it('replica_mode_gap: appears while a subscription writes a captured table (no trigger state records those writes) and goes when its history replicates from the publisher or the subscription goes', async () => {
    // Own databases on both clusters, so this test does not see the cutover test's tables.
    for (const c of [publisher!, subscriber!]) {
      const admin = new pg.Client({ connectionString: c.url() });
      await admin.connect();
      await admin.query('CREATE DATABASE gap');
      await admin.end();
    }
    const src = new pg.Client({ connectionString: publisher!.url('gap') });
    const dst = new pg.Client({ connectionString: subscriber!.url('gap') });
    await src.connect();
    await dst.connect();
    const tl = createThreadline({ db: dst, tables: { orders: {} } });
    const gaps = async () =>
      (await tl.health.findings({ schema: 'public', consistency: 'primary' })).filter(
        (f) => f.code === 'replica_mode_gap',
      );
    const history = async () =>
      (
        await dst.query<{ id: string }>(
          `SELECT table_pk->>'id' AS id FROM threadline.audit_changes WHERE table_name = 'orders' ORDER BY 1`,
        )
      ).rows.map((r) => r.id);
    const settled = (what: string, probe: string, want: unknown) =>
      until(
        async () => (await dst.query(probe)).rows[0]?.v,
        (v) => v === want,
        what,
      );
    const replicated = (id: number) =>
      settled(`row ${id} to replicate`, `SELECT count(*)::int AS v FROM orders WHERE id = ${id}`, 1);
    const triggers = ['delete', 'insert', 'truncate', 'update'].map((op) => `threadline_capture_${op}`);
    try {
      await src.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
      await src.query('CREATE PUBLICATION gap FOR TABLE orders');
      await dst.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
      await tl.install();
      await tl.installTriggers();
      // No subscription yet: nothing to report.
      expect(await gaps()).toEqual([]);

      await dst.query(
        `CREATE SUBSCRIPTION gap CONNECTION 'host=127.0.0.1 port=${publisher!.port} dbname=gap user=postgres' PUBLICATION gap`,
      );
      const audit =
        '"threadline"."audit_transactions", "threadline"."audit_changes", "threadline"."audit_actions"';
      const fix = `on the publisher: threadline gen-triggers --tables orders --apply; ALTER PUBLICATION "gap" ADD TABLE ${audit}; then on this database: ALTER SUBSCRIPTION "gap" REFRESH PUBLICATION;`;
      expect(await gaps()).toEqual([
        {
          code: 'replica_mode_gap',
          severity: 'warning',
          schema: 'public',
          table: 'orders',
          message:
            "orders is written by logical-replication subscription(s) gap, whose writes its capture triggers do not record (the apply worker fires no statement-level trigger for replicated inserts, updates and deletes, whatever the trigger's ENABLE state); capture it on the publisher and replicate the audit tables with it",
          fix,
        },
      ]);
      // The finding is real: a replicated write is applied and not captured...
      await src.query("INSERT INTO orders VALUES (1, 'lost')");
      await replicated(1);
      expect(await history()).toEqual([]);
      // ...and ENABLE ALWAYS does not change that (so the finding stays).
      await dst.query(triggers.map((t) => `ALTER TABLE orders ENABLE ALWAYS TRIGGER ${t};`).join(' '));
      await src.query("UPDATE orders SET note = 'still lost' WHERE id = 1");
      await settled('the update to replicate', `SELECT note AS v FROM orders WHERE id = 1`, 'still lost');
      expect(await history()).toEqual([]);
      expect((await gaps()).map((f) => f.fix)).toEqual([fix]);
      await dst.query(triggers.map((t) => `ALTER TABLE orders ENABLE TRIGGER ${t};`).join(' '));

      // The fix: capture on the publisher, publish the audit tables, refresh here.
      const pubTl = createThreadline({ db: src, tables: { orders: {} } });
      await pubTl.install();
      await pubTl.installTriggers();
      await src.query(`ALTER PUBLICATION gap ADD TABLE ${audit}`);
      await dst.query('ALTER SUBSCRIPTION gap REFRESH PUBLICATION');
      expect(await gaps()).toEqual([]);
      await settled(
        'the audit tables to sync',
        `SELECT count(*)::int AS v FROM pg_subscription_rel WHERE srsubstate <> 'r'`,
        0,
      );
      await src.query("INSERT INTO orders VALUES (2, 'kept')");
      await replicated(2);
      await settled(
        'the history of row 2 to replicate',
        `SELECT count(*)::int AS v FROM threadline.audit_changes`,
        1,
      );
      expect(await history()).toEqual(['2']);

      // The publication stops carrying the audit tables: the finding is back...
      await src.query(`ALTER PUBLICATION gap DROP TABLE ${audit}`);
      await dst.query('ALTER SUBSCRIPTION gap REFRESH PUBLICATION');
      expect((await gaps()).map((f) => f.fix)).toEqual([fix]);
      // ...until no subscription writes the table any more.
      await dst.query('DROP SUBSCRIPTION gap');
      expect(await gaps()).toEqual([]);
      // As at a cutover, install moves the audit id sequences past the replicated ids.
      await tl.install();
      await dst.query("INSERT INTO orders VALUES (3, 'local')");
      expect(await history()).toEqual(['2', '3']);
    } finally {
      await src.end();
      await dst.end();
    }
  }, 120_000);
});
