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
});
