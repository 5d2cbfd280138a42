import { describeEachDb } from '@threadline/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { ActorRef, type AuditChange, type Page, runWithAuditContext, type Threadline } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

const BIND = `select set_config('threadline.actor_ref', $1, true), set_config('threadline.context', $2, true)`;

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

// The timeline by actor or correlation id merges per-transaction index ranges (tops, then at
// most limit - rank + 1 changes per transaction); these tests hold it to the brute-force order.
describeEachDb('index-driven query shapes', (db) => {
  let tl: Threadline;
  const a = uniqueName('qa');
  const b = uniqueName('qb');

  beforeAll(async () => {
    await db().exec(
      `create table ${a} (id int primary key, n int); create table ${b} (k text primary key, n int);`,
    );
    tl = await installed(db());
    await tl.installTriggers({ tables: [a, b] });
    let id = 0;
    // Transactions of many sizes and several statements each, for alice, bob and nobody.
    for (const [i, size] of [1, 7, 3, 12, 1, 5, 2, 9, 1, 4].entries()) {
      const actor = i % 3 === 2 ? ActorRef.user('bob') : ActorRef.user('alice');
      await runWithAuditContext({ actor, correlationId: `c-${i % 4}` }, () =>
        tl.transaction(async (tx) => {
          await tx.query(`insert into ${a} select g, 0 from generate_series($1::int, $2::int) g`, [
            id + 1,
            id + size,
          ]);
          await tx.query(`insert into ${b} values ($1, 0)`, [`k${i}`]);
          await tx.query(`update ${a} set n = n + 1 where id between $1 and $2`, [
            id + 1,
            id + Math.ceil(size / 2),
          ]);
          if (i === 5) await tl.recordAction('batch.done', { correlationId: 'c-action' });
        }),
      );
      id += size;
    }
    await tl.query(`update ${a} set n = 9 where id = 1`);
    if (db().kind === 'postgres') {
      // Interleaved transactions: the one that began first captures the newest change.
      const pool = db().server!.newPool(2);
      const first = await pool.connect();
      const second = await pool.connect();
      try {
        await first.query('begin');
        await first.query(BIND, [
          ActorRef.toJSON(ActorRef.user('alice')),
          JSON.stringify({ correlationId: 'c-long' }),
        ]);
        await first.query(`update ${a} set n = n + 10 where id <= 3`);
        await second.query('begin');
        await second.query(BIND, [
          ActorRef.toJSON(ActorRef.user('alice')),
          JSON.stringify({ correlationId: 'c-short' }),
        ]);
        await second.query(`update ${a} set n = n + 20 where id between 4 and 8`);
        await second.query('commit');
        await first.query(`update ${a} set n = n + 30 where id between 9 and 10`);
        await first.query('commit');
      } finally {
        first.release();
        second.release();
        await pool.end();
      }
    }
  });

  const expected = async (where: string, params: unknown[]) =>
    (
      await db().sql<{ id: string }>(
        `select c.id::text as id from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
          where ${where} order by c.captured_at desc, c.id desc`,
        params,
      )
    ).map((r) => r.id);

  it('pages the actor timeline in exactly the captured_at desc, id desc order, at every page size', async () => {
    const alice = await expected(`t.actor_ref = '{"type":"user","id":"alice"}'`, []);
    expect(alice.length).toBeGreaterThan(40);
    for (const pageSize of [1, 2, 3, 5, 8, 13, 50, 1000]) {
      const ids = await walk((cursor) => tl.timeline({ actor: 'user:alice' }, { pageSize, cursor }));
      expect(ids, `pageSize ${pageSize}`).toEqual(alice);
    }
    const bobB = await expected(`t.actor_ref = '{"type":"user","id":"bob"}' and c.table_name = $1`, [b]);
    expect(
      await walk((cursor) => tl.timeline({ actor: 'user:bob', table: b }, { pageSize: 2, cursor })),
    ).toEqual(bobB);
  });

  it('pages correlation timelines (transaction or linked action) in the same order', async () => {
    for (const correlationId of ['c-1', 'c-action', 'c-long', 'c-short']) {
      const want = await expected(
        `(t.correlation_id = $1 or t.id in (select transaction_id from threadline.audit_actions where correlation_id = $1))`,
        [correlationId],
      );
      for (const pageSize of [1, 4, 50]) {
        const got = await walk((cursor) => tl.timeline({ correlationId }, { pageSize, cursor }));
        expect(got, `${correlationId} / ${pageSize}`).toEqual(want);
      }
    }
    const both = await expected(
      `t.correlation_id = 'c-2' and t.actor_ref = '{"type":"user","id":"bob"}'`,
      [],
    );
    expect(both.length).toBeGreaterThan(0);
    expect(
      await walk((cursor) =>
        tl.timeline({ correlationId: 'c-2', actor: 'user:bob' }, { pageSize: 3, cursor }),
      ),
    ).toEqual(both);
  });

  it('keeps windows and cursors on the transaction-driven path', async () => {
    const all = await tl.timeline({ actor: 'user:alice' }, { pageSize: 1000 });
    const mid = all.entries[Math.floor(all.entries.length / 2)]!;
    const want = await expected(
      `t.actor_ref = '{"type":"user","id":"alice"}' and c.captured_at <= $1::timestamptz`,
      [mid.capturedAt],
    );
    expect(
      await walk((cursor) =>
        tl.timeline({ actor: 'user:alice', to: mid.capturedAt }, { pageSize: 4, cursor }),
      ),
    ).toEqual(want);
  });

  it("as-of sees a TRUNCATE after the row's last change (partial truncate index), and a re-insert after it", async () => {
    const t = uniqueName('trunc');
    await db().exec(`create table ${t} (id int primary key, v text)`);
    await tl.installTriggers({ tables: [t] });
    await tl.query(`insert into ${t} values (1, 'one'), (2, 'two')`);
    // PGlite's clock has millisecond resolution: step past the instant on both sides, so the
    // next statement's captured_at is strictly after it.
    const tick = () => new Promise((resolve) => setTimeout(resolve, 3));
    const stamp = async () => {
      await tick();
      const t = (
        await db().sql<{ t: string }>(
          `select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t`,
        )
      )[0]!.t;
      await tick();
      return t;
    };
    await tl.query(`update ${t} set v = 'uno' where id = 1`);
    for (let i = 0; i < 5; i++) await tl.query(`update ${t} set v = v || '!' where id = 2`);
    const beforeTruncate = await stamp();
    await tl.query(`truncate ${t}`);
    const afterTruncate = await stamp();
    await tl.query(`insert into ${t} values (1, 'again')`);
    const afterReinsert = await stamp();
    expect(await tl.asOf(t, 1, beforeTruncate)).toMatchObject({ status: 'found', row: { id: 1, v: 'uno' } });
    expect(await tl.asOf(t, 1, afterTruncate)).toMatchObject({
      status: 'deleted',
      lastRow: { id: 1, v: 'uno' },
      change: { op: 'truncate' },
    });
    expect(await tl.asOf(t, 1, afterReinsert)).toMatchObject({ status: 'found', row: { v: 'again' } });
    expect(await tl.asOf(t, 3, afterReinsert)).toEqual({ status: 'before_horizon', firstChange: null });
  });

  it('installs the query indexes and replaces the old single-column transaction index', async () => {
    await db().exec(
      'create index audit_changes_transaction_idx on threadline.audit_changes (transaction_id)',
    );
    await tl.install();
    const rows = await db().sql<{ indexname: string; indexdef: string }>(
      `select indexname, indexdef from pg_indexes where schemaname = 'threadline' and tablename = 'audit_changes' order by indexname`,
    );
    const names = rows.map((r) => r.indexname);
    expect(names).not.toContain('audit_changes_transaction_idx');
    expect(rows.find((r) => r.indexname === 'audit_changes_transaction_time_idx')?.indexdef).toMatch(
      /\(transaction_id, captured_at, id\)$/,
    );
    expect(rows.find((r) => r.indexname === 'audit_changes_table_truncate_idx')?.indexdef).toMatch(
      /\(table_id, captured_at, id\) WHERE \(op = 'truncate'::text\)$/,
    );
    // The compact keys (schema version 7): no text or jsonb key in any index but the legacy ones,
    // which hold only rows written before table ids.
    expect(rows.find((r) => r.indexname === 'audit_changes_key_idx')?.indexdef).toMatch(
      /\(table_id, key_hash, captured_at, id\)$/,
    );
    for (const r of rows.filter((x) => /table_schema|table_pk\b/.test(x.indexdef)))
      expect(r.indexdef).toMatch(/table_id IS NULL/);
    // No rows without a table id here, so no legacy index: capture pays for every index it has.
    expect(names.filter((n) => n.includes('legacy'))).toEqual([]);
  });
});
