import { describeEachDb } from '@threadline/test-utils';
import { beforeAll, expect, it } from 'vitest';
import {
  type ActivityFilters,
  ActorRef,
  createThreadline,
  runWithAuditContext,
  type Threadline,
} from '../src/index.js';
import { installed } from './helpers.js';

interface Row {
  at: string;
  table_name: string;
  transaction_id: string;
  actor: string | null;
  correlation_id: string | null;
}

/** Start of the UTC bucket holding `at` (weeks start on Monday), as core prints it. */
function truncate(at: string, bucket: string): string {
  const d = new Date(at);
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()));
  if (bucket !== 'hour') t.setUTCHours(0);
  if (bucket === 'week') t.setUTCDate(t.getUTCDate() - ((t.getUTCDay() + 6) % 7));
  if (bucket === 'month') t.setUTCDate(1);
  return t.toISOString().replace('.000Z', 'Z');
}

describeEachDb('tl.activity with the hourly rollup: the same counts as a brute-force count', (db) => {
  let tl: Threadline;
  let rows: Row[];

  /** The brute-force answer: every change read into JS, filtered and bucketed here. */
  function expected(f: ActivityFilters & { actorJson?: string }, from: string, to: string, bucket: string) {
    const out = new Map<string, { changes: number; transactions: Set<string> }>();
    for (const r of rows) {
      if (r.at < from || r.at > to) continue;
      if (f.table && r.table_name !== f.table) continue;
      if (f.actorJson && r.actor !== f.actorJson) continue;
      if (f.correlationId && r.correlation_id !== f.correlationId) continue;
      const k = truncate(r.at, bucket);
      const b = out.get(k) ?? { changes: 0, transactions: new Set<string>() };
      b.changes++;
      b.transactions.add(r.transaction_id);
      out.set(k, b);
    }
    return [...out]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([start, b]) => ({ start, changes: b.changes, transactions: b.transactions.size }));
  }

  async function nonEmpty(f: ActivityFilters) {
    return (await tl.activity(f)).buckets.filter((b) => b.changes > 0);
  }

  beforeAll(async () => {
    await db().exec('create table ra (id int primary key, v int); create table rb (id int primary key)');
    tl = await installed(db());
    await tl.installTriggers({ tables: ['ra', 'rb'] });
    const actors = [ActorRef.user('ann'), ActorRef.user('bob'), ActorRef.serviceAccount('etl')];
    for (let i = 0; i < 60; i++) {
      await runWithAuditContext({ actor: actors[i % 3]!, correlationId: `req-${i % 7}` }, () =>
        tl.transaction(async (tx) => {
          await tx.query(
            `insert into ra select g, ${i} from generate_series(${i * 10}, ${i * 10 + (i % 4)}) g`,
          );
          if (i % 2 === 0) await tx.query(`insert into rb values (${i})`);
          if (i % 5 === 0) await tx.query(`update ra set v = v + 1 where id = ${i * 10}`);
        }),
      );
    }
    // Spread over five days of 2026-02: a transaction every 97 minutes, and within a transaction
    // changes up to 50 minutes apart, so many transactions span an hour's end (and some a day's).
    await db().exec(`update threadline.audit_transactions set occurred_at = timestamptz '2026-02-01T00:00:00Z' + id * interval '97 minutes';
      update threadline.audit_changes set captured_at = timestamptz '2026-02-01T00:00:00Z' + transaction_id * interval '97 minutes'
        + (id % 3) * interval '25 minutes' + (id % 7) * interval '13 seconds'`);
    rows = await db().sql<Row>(
      `select to_char(c.captured_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at, c.table_name,
              c.transaction_id::text, t.actor_ref::text as actor, t.correlation_id
         from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id`,
    );
  });

  it('counts whole hours from the rollup and the rest from audit_changes, exactly as a brute-force count', async () => {
    const hoursBefore = await db().sql<{ n: number }>(
      'select count(*)::int as n from threadline.activity_hours',
    );
    expect(hoursBefore[0]?.n).toBe(0);
    const maintained = await tl.storage.maintain();
    expect(maintained.activityHours).toBeGreaterThan(24 * 5);
    const actorJson = rows.find((r) => r.actor?.includes('ann'))!.actor!;
    // Window edges inside hours (10:17 … 15:43), so partial hours are counted from audit_changes.
    const windows = [
      ['2026-02-01T10:17:00Z', '2026-02-05T15:43:30Z'],
      ['2026-01-31T00:00:00Z', '2026-02-08T00:00:00Z'],
      ['2026-02-02T03:05:00Z', '2026-02-02T09:59:59.999999Z'],
    ] as const;
    const filters: (ActivityFilters & { actorJson?: string })[] = [
      {},
      { table: 'ra' },
      { table: 'rb' },
      { actor: 'user:ann', actorJson },
      { correlationId: 'req-3' },
      { table: 'ra', actor: 'user:ann', actorJson },
    ];
    let compared = 0;
    for (const [from, to] of windows)
      for (const bucket of ['hour', 'day', 'week', 'month'] as const)
        for (const { actorJson: a, ...f } of filters) {
          const want = expected({ ...f, actorJson: a }, from, to, bucket);
          expect(await nonEmpty({ ...f, from, to, bucket }), JSON.stringify({ f, from, to, bucket })).toEqual(
            want,
          );
          compared += want.length;
        }
    expect(compared).toBeGreaterThan(200);
  });

  /**
   * Refresh until the rollup has counted every transaction of this test. A refresh counts only the
   * transactions below its snapshot's xmin, which is server-wide: a transaction left open in
   * another database (another test file running beside this one) holds it back for a while.
   */
  async function rolledUpEverything(): Promise<void> {
    const [{ top }] = (await db().sql<{ top: string }>(
      'select max(txid)::text as top from threadline.audit_transactions',
    )) as [{ top: string }];
    for (let attempt = 0; attempt < 600; attempt++) {
      await db().sql('select threadline.activity_refresh()');
      const [{ upto }] = (await db().sql<{ upto: string }>(
        'select upto::text as upto from threadline.activity_state',
      )) as [{ upto: string }];
      if (BigInt(upto) > BigInt(top)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(
      "the rollup never counted this test's transactions: a transaction stayed open on the server",
    );
  }

  it('reads the rollup for covered hours (a changed rollup row shows), and a purge forgets what it deleted', async () => {
    const window = { from: '2026-02-01T00:00:00Z', to: '2026-02-06T00:00:00Z', bucket: 'day' as const };
    await tl.storage.maintain();
    await rolledUpEverything();
    const truth = await nonEmpty(window);
    await db().exec(`update threadline.activity_rollup set changes = changes + 1000
      where captured_at = (select min(captured_at) from threadline.activity_rollup)`);
    const tampered = await nonEmpty(window);
    expect(tampered.reduce((n, b) => n + b.changes, 0)).toBe(truth.reduce((n, b) => n + b.changes, 0) + 1000);
    // activity_forget (what purges call for the range they delete) drops those hours: counted raw again.
    await db().sql(`select threadline.activity_forget('2026-02-01', '2026-02-02')`);
    expect(await nonEmpty(window)).toEqual(truth);
    // A retention purge deletes changes (purgeSql.deleteChanges) and forgets their hours.
    await tl.storage.maintain();
    const keeper = createThreadline({ db: db().db, retention: { enabled: true, keepDays: 30 } });
    const purge = await runWithAuditContext({ actor: ActorRef.user('dpo') }, () =>
      keeper.retention.purge({ dryRun: false, cutoff: '2026-02-02T12:00:00Z' }),
    );
    expect(purge.complete).toBe(true);
    rows = rows.filter((r) => r.at >= '2026-02-02T12:00:00');
    expect(await nonEmpty(window)).toEqual(expected({}, window.from, window.to, 'day'));
  });
});
