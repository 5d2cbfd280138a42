import type { PGlite } from '@electric-sql/pglite';
import { type DbHandle, describeEachDb } from '@threadline/test-utils';
import type pg from 'pg';
import { expect, it } from 'vitest';
import { changesFor, installed, uniqueName } from './helpers.js';

type Query = <R>(sql: string) => Promise<R[]>;

/** Run `fn` in one committed transaction on one connection. */
async function inTransaction(h: DbHandle, fn: (q: Query) => Promise<void>): Promise<void> {
  if (h.kind === 'postgres') {
    const c = await (h.db as pg.Pool).connect();
    try {
      await c.query('begin');
      await fn(async <R>(sql: string) => (await c.query(sql)).rows as R[]);
      await c.query('commit');
    } finally {
      c.release();
    }
    return;
  }
  const lite = h.db as PGlite;
  await lite.exec('begin');
  await fn(async <R>(sql: string) => (await lite.query<R>(sql)).rows);
  await lite.exec('commit');
}

const SETTINGS = `select current_setting('TimeZone') as tz, current_setting('enable_nestloop') as nestloop,
  current_setting('enable_mergejoin') as mergejoin, current_setting('work_mem') as work_mem, current_setting('jit') as jit`;

/**
 * Capture sets its plan-stability settings and TimeZone = UTC around each statement with
 * set_config instead of SET clauses on the function (they cost on every call). What it captures
 * must not depend on the session's TimeZone, on every path (single-row UPDATE, multi-row UPDATE,
 * INSERT, DELETE), also for types that only contain a timestamptz; and the session gets its own
 * settings back after every captured statement.
 */
describeEachDb('capture renders time zones in UTC and gives the session its settings back', (db) => {
  it('on every path, whatever the session TimeZone, for timestamptz in a domain, an array and a range', async () => {
    await installed(db());
    const t = uniqueName('tz');
    const domain = `${t}_d`;
    await db().exec(`create domain ${domain} as timestamptz;
      create table ${t} (id int primary key, at timestamptz, d ${domain}, arr timestamptz[], r tstzrange, n int)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const seen: Record<string, string>[] = [];
    await inTransaction(db(), async (q) => {
      for (const set of [
        `set local TimeZone = 'America/New_York'`,
        `set local work_mem = '3MB'`,
        'set local enable_nestloop = on',
      ])
        await q(set);
      const before = (await q<Record<string, string>>(SETTINGS))[0]!;
      const at = `'2024-05-01 12:00:00+00'`;
      await q(
        `insert into ${t} select g, ${at}, ${at}, array[${at}::timestamptz], tstzrange(${at}, null), g from generate_series(1, 3) g`,
      );
      seen.push((await q<Record<string, string>>(SETTINGS))[0]!);
      await q(`update ${t} set n = n + 1 where id = 1`); // one row: its own statement
      seen.push((await q<Record<string, string>>(SETTINGS))[0]!);
      await q(`update ${t} set n = n + 1`); // several rows: the guarded statement
      seen.push((await q<Record<string, string>>(SETTINGS))[0]!);
      await q(`delete from ${t} where id = 3`);
      seen.push((await q<Record<string, string>>(SETTINGS))[0]!);
      for (const s of seen) expect(s).toEqual(before);
      expect(before).toMatchObject({ tz: 'America/New_York', work_mem: '3MB', nestloop: 'on' });
    });
    const rows = await changesFor(db(), 'public', t);
    expect(rows.map((r) => r.op)).toEqual([
      'insert',
      'insert',
      'insert',
      'update',
      'update',
      'update',
      'update',
      'delete',
    ]);
    for (const r of rows) {
      const image = (r.data_after ?? r.data_before)!;
      expect(image.at).toBe('2024-05-01T12:00:00+00:00');
      expect(image.d).toBe('2024-05-01T12:00:00+00:00');
      expect(image.arr).toEqual(['2024-05-01T12:00:00+00:00']);
      expect(image.r).toBe('["2024-05-01 12:00:00+00",)');
    }
  });
});
