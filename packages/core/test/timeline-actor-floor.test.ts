import { describeEachDb } from '@threadline/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { ActorRef, type AuditChange, type Page, runWithAuditContext, type Threadline } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

/** Every page of a walk, concatenated. */
async function walk(next: (cursor: string | null) => Promise<Page<AuditChange>>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await next(cursor);
    ids.push(...page.entries.map((e) => e.id));
    if (!page.hasMore) return ids;
    cursor = page.cursor;
  }
  throw new Error('too many pages');
}

// The timeline by actor first takes a floor from the transactions that started last (probing each
// from its start on), then bounds every probe of the page by it (timeline-sql.ts). The floor must
// never hide a change: these orders are built to break any shortcut that trusts start order.
describeEachDb('timeline by actor: the floor from the latest-started transactions', (db) => {
  let tl: Threadline;
  const t = uniqueName('tf');
  const tx: string[] = [];

  beforeAll(async () => {
    await db().exec(`create table ${t} (id int primary key, n int)`);
    tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    let id = 0;
    // 16 transactions of alice (and some of bob between them), one to six rows each: the rows of
    // one statement share captured_at (ties ordered by id).
    for (let i = 0; i < 16; i++) {
      const size = 1 + ((i * 5) % 6);
      const actor = ActorRef.user('alice');
      await runWithAuditContext({ actor }, () =>
        tl.transaction(async (q) => {
          await q.query(`insert into ${t} select g, 0 from generate_series($1::int, $2::int) g`, [
            id + 1,
            id + size,
          ]);
          await q.query(`update ${t} set n = n + 1 where id = $1`, [id + 1]);
        }),
      );
      id += size;
      if (i % 4 === 1)
        await runWithAuditContext({ actor: ActorRef.user('bob') }, () =>
          tl.query(`update ${t} set n = n + 2 where id <= 3`),
        );
    }
    tx.push(
      ...(
        await db().sql<{ id: string }>(
          `select id::text as id from threadline.audit_transactions
            where actor_ref = '{"type":"user","id":"alice"}' order by id`,
        )
      ).map((r) => r.id),
    );
    const s = (sql: string, params: unknown[] = []) => db().sql(sql, params);
    // 1. Started long before every other transaction, wrote the newest changes (a long-running
    //    transaction): never among the latest-started, yet its changes head the timeline.
    await s(
      `update threadline.audit_transactions set occurred_at = occurred_at - interval '200 days' where id = $1`,
      [tx[0]],
    );
    await s(
      `update threadline.audit_changes set captured_at = (select max(captured_at) from threadline.audit_changes) + interval '1 second'
        where transaction_id = $1`,
      [tx[0]],
    );
    // 2. Older transactions moved back into earlier months (their own partitions after maintain).
    for (const [k, days] of [
      [1, 100],
      [2, 70],
      [3, 40],
      [4, 40],
    ] as const) {
      await s(
        `update threadline.audit_transactions set occurred_at = occurred_at - make_interval(days => $2) where id = $1`,
        [tx[k], days],
      );
      await s(
        `update threadline.audit_changes set captured_at = captured_at - make_interval(days => $2) where transaction_id = $1`,
        [tx[k], days],
      );
    }
    // 3. Ties across transactions: every change of two transactions at one instant.
    await s(
      `update threadline.audit_changes set captured_at = (select min(captured_at) from threadline.audit_changes where transaction_id = $1)
        where transaction_id in ($1, $2)`,
      [tx[12], tx[9]],
    );
    // 4. A latest-started transaction whose changes are older than its start (edited by hand):
    //    the floor does not see them, the page must.
    await s(
      `update threadline.audit_changes set captured_at = captured_at - interval '10 days' where transaction_id = $1`,
      [tx[14]],
    );
    // 5. A latest-started transaction whose start was edited to after its changes.
    await s(
      `update threadline.audit_transactions set occurred_at = occurred_at + interval '300 days' where id = $1`,
      [tx[15]],
    );
    await tl.storage.maintain();
  });

  const expected = async (where = 'true', params: unknown[] = []) =>
    (
      await db().sql<{ id: string }>(
        `select c.id::text as id from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
          where t.actor_ref = '{"type":"user","id":"alice"}' and ${where} order by c.captured_at desc, c.id desc`,
        params,
      )
    ).map((r) => r.id);

  it('spreads the actor over several partitions', async () => {
    const [{ n }] = (await db().sql<{ n: number }>(
      `select count(distinct c.tableoid)::int as n from threadline.audit_changes c where c.transaction_id = any($1::bigint[])`,
      [tx],
    )) as [{ n: number }];
    expect(n).toBeGreaterThanOrEqual(4);
  });

  it('pages in exactly the captured_at desc, id desc order at every page size, across partitions', async () => {
    const want = await expected();
    expect(want.length).toBeGreaterThan(50);
    expect(want.slice(0, 2)).toEqual(
      (
        await db().sql<{ id: string }>(
          `select id::text as id from threadline.audit_changes where transaction_id = $1 order by captured_at desc, id desc limit 2`,
          [tx[0]],
        )
      ).map((r) => r.id),
    );
    for (const pageSize of [1, 2, 3, 4, 5, 7, 11, 50, 1000]) {
      const ids = await walk((cursor) => tl.timeline({ actor: 'user:alice' }, { pageSize, cursor }));
      expect(ids, `pageSize ${pageSize}`).toEqual(want);
    }
  });

  it('keeps windows and the table filter on the floor path', async () => {
    const all = await tl.timeline({ actor: 'user:alice' }, { pageSize: 1000 });
    const at = all.entries[Math.floor(all.entries.length / 3)]!.capturedAt;
    const want = await expected(`c.captured_at <= $1::timestamptz and c.table_name = $2`, [at, t]);
    for (const pageSize of [2, 5]) {
      expect(
        await walk((cursor) => tl.timeline({ actor: 'user:alice', table: t, to: at }, { pageSize, cursor })),
        `pageSize ${pageSize}`,
      ).toEqual(want);
    }
  });
});
