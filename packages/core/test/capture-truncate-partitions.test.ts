import { describeEachDb } from '@threadline/test-utils';
import type pg from 'pg';
import { expect, it } from 'vitest';
import { changesFor, installed, uniqueName } from './helpers.js';

// Each TRUNCATE is one row (docs/capture.md): a TRUNCATE of a partitioned table covers its
// partitions, whose own triggers fire after it and record nothing; the note that says so belongs to
// the statement that made it, so no later TRUNCATE of a partition is taken for part of it.
describeEachDb('TRUNCATE of partitions', (db) => {
  async function partitioned(prefix: string): Promise<string> {
    const t = uniqueName(prefix);
    await db().exec(`create table ${t} (id int, k int, primary key (id, k)) partition by list (k);
      create table ${t}_1 partition of ${t} for values in (1);
      create table ${t}_2 partition of ${t} for values in (2)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    return t;
  }

  function truncates(rows: { op: string; data_before: unknown }[]): unknown[] {
    return rows.map((r) => (r.op === 'truncate' ? ['truncate', r.data_before] : r.op));
  }

  /** `truncate t_1, t; insert …; truncate t_1`: the partition, the parent, the insert, the partition again. */
  const partitionParentInsertPartition = (t: string) => [
    ['truncate', { partition: `public.${t}_1` }],
    ['truncate', null],
    'insert',
    ['truncate', { partition: `public.${t}_1` }],
  ];

  for (const [how, wrap] of [
    ['one query string', (sql: string) => `begin; ${sql} commit;`],
    ['a DO block', (sql: string) => `do $$ begin ${sql} end $$;`],
  ] as const) {
    it(`a partition named before its parent, then truncated again alone (${how}): the second TRUNCATE is recorded`, async () => {
      const t = await partitioned('trpart');
      await db().exec(wrap(`truncate ${t}_1, ${t}; insert into ${t} values (10, 1); truncate ${t}_1;`));
      const rows = await changesFor(db(), 'public', t);
      expect(truncates(rows)).toEqual(partitionParentInsertPartition(t));
    });
  }

  it('as a role that may only truncate and insert: the later TRUNCATE of the partition is recorded', async () => {
    const t = await partitioned('trrole');
    const role = `${t}_app`;
    await db().exec(`create role ${role} nologin; grant truncate, insert on ${t}, ${t}_1, ${t}_2 to ${role}`);
    try {
      await db().exec(
        `begin; set local role ${role}; truncate ${t}_1, ${t}; insert into ${t} values (10, 1); truncate ${t}_1; commit;`,
      );
    } finally {
      await db().exec(`drop owned by ${role}; drop role ${role}`);
    }
    const rows = await changesFor(db(), 'public', t);
    expect(truncates(rows)).toEqual(partitionParentInsertPartition(t));
  });

  it('a partition, then its parent, sent as separate statements: one row each', async () => {
    const t = await partitioned('trsep');
    await db().exec(`truncate ${t}_1`);
    // One transaction, each statement its own message (one connection: PGlite has one).
    const pool = db().kind === 'postgres' ? (db().db as pg.Pool) : null;
    const client = pool ? await pool.connect() : null;
    const run = async (text: string) => (client ? void (await client.query(text)) : db().exec(text));
    try {
      for (const text of ['begin', `truncate ${t}_1`, `truncate ${t}`, 'commit']) await run(text);
    } finally {
      client?.release();
    }
    await db().exec(`truncate ${t}_2`);
    await db().exec(`truncate ${t}`);
    const rows = await changesFor(db(), 'public', t);
    expect(truncates(rows)).toEqual([
      ['truncate', { partition: `public.${t}_1` }],
      ['truncate', { partition: `public.${t}_1` }],
      ['truncate', null],
      ['truncate', { partition: `public.${t}_2` }],
      ['truncate', null],
    ]);
  });

  it('a TRUNCATE of a partition that is itself partitioned is one row', async () => {
    const t = uniqueName('trmid');
    await db().exec(`create table ${t} (id int, k int, primary key (id, k)) partition by list (k);
      create table ${t}_m partition of ${t} for values in (1) partition by range (id);
      create table ${t}_ma partition of ${t}_m for values from (0) to (100);
      create table ${t}_mb partition of ${t}_m for values from (100) to (200);
      create table ${t}_2 partition of ${t} for values in (2)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(`truncate ${t}_m`);
    await db().exec(`truncate ${t}`);
    await db().exec(`truncate ${t}_mb`);
    const rows = await changesFor(db(), 'public', t);
    expect(truncates(rows)).toEqual([
      ['truncate', { partition: `public.${t}_m` }],
      ['truncate', null],
      ['truncate', { partition: `public.${t}_mb` }],
    ]);
  });
});
