import { describeEachDb } from '@threadline/test-utils';
import pg from 'pg';
import { expect, it } from 'vitest';
import { changesFor, countRows, installed, uniqueName } from './helpers.js';

// Capture is regenerated once per transaction after DDL (capture-deferred.ts): before the
// transaction's next write to the table, or at commit. Every write must still see the DDL before
// it, exactly as when each ALTER regenerated on its own. On PGlite (no event triggers: portable
// mode) the same transactions must capture the same rows.
describeEachDb('DDL then writes in one transaction', (db) => {
  it('ALTER TABLE ADD COLUMN then UPDATE in one transaction captures the new column', async () => {
    const t = uniqueName('addwrite');
    await db().exec(`create table ${t} (id int primary key, v text); insert into ${t} values (1, 'a')`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(`begin; alter table ${t} add column x int; update ${t} set x = 1; commit;`);
    const rows = (await changesFor(db(), 'public', t)).filter((r) => r.op === 'update');
    expect(rows.map((r) => [r.changed_fields, r.data_after])).toEqual([[['x'], { id: 1, v: 'a', x: 1 }]]);
  });

  it('with track_counts off (no insert counted, so the pending table is asked), ALTER then UPDATE still captures the new column', async () => {
    const t = uniqueName('nocount');
    await db().exec(`create table ${t} (id int primary key, v text); insert into ${t} values (1, 'a')`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(
      `begin; set local track_counts = off; alter table ${t} add column x int; update ${t} set x = 1; commit;`,
    );
    const rows = (await changesFor(db(), 'public', t)).filter((r) => r.op === 'update');
    expect(rows.map((r) => [r.changed_fields, r.data_after])).toEqual([[['x'], { id: 1, v: 'a', x: 1 }]]);
  });

  it('track_counts off at the DDL and back on at the write: a masked column swapped by renames stays masked', async () => {
    const t = uniqueName('offon');
    await db().exec(
      `create table ${t} (id int primary key, email text, v text); insert into ${t} values (1, 'a@secret', 'x')`,
    );
    const tl = await installed(db(), { [t]: { mask: ['email'] } });
    await tl.installTriggers({ tables: [t] });
    await db().exec(
      `begin; set local track_counts = off;
       alter table ${t} rename column email to tmp; alter table ${t} rename column v to email; alter table ${t} rename column tmp to v;
       set local track_counts = on; update ${t} set email = 'y'; commit;`,
    );
    const rows = (await changesFor(db(), 'public', t)).filter((r) => r.op === 'update');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.data_after).toMatchObject({ id: 1, v: '[REDACTED]' });
    expect(JSON.stringify(rows)).not.toContain('a@secret');
  });

  it('a migration function declared SET track_counts = off, then a plain write: the new column is captured', async () => {
    const t = uniqueName('offfn');
    await db().exec(
      `create table ${t} (id int primary key, v text); insert into ${t} values (1, 'a');
       create function ${t}_mig() returns void language plpgsql set track_counts = off
         as $$ begin alter table ${t} add column x int; end $$;`,
    );
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(`begin; select ${t}_mig(); update ${t} set x = 1; commit;`);
    const rows = (await changesFor(db(), 'public', t)).filter((r) => r.op === 'update');
    expect(rows.map((r) => [r.changed_fields, r.data_after])).toEqual([[['x'], { id: 1, v: 'a', x: 1 }]]);
  });

  it('a masked column renamed away and a new one under its name, then writes: both redacted', async () => {
    const t = uniqueName('swap');
    await db().exec(`create table ${t} (id int primary key, email text, note text)`);
    const tl = await installed(db(), { [t]: { mask: ['email'] } });
    await tl.installTriggers({ tables: [t] });
    await db().exec(
      `begin;
       alter table ${t} rename column email to email_old;
       alter table ${t} add column email text;
       alter table ${t} drop column note;
       insert into ${t} values (1, 'old@secret', 'new@secret');
       update ${t} set email = 'newer@secret';
       commit;`,
    );
    const rows = await changesFor(db(), 'public', t);
    expect(rows.map((r) => [r.op, r.data_after, r.changed_from])).toEqual([
      ['insert', { id: 1, email_old: '[REDACTED]', email: '[REDACTED]' }, null],
      ['update', { id: 1, email_old: '[REDACTED]', email: '[REDACTED]' }, { email: '[REDACTED]' }],
    ]);
  });

  it('DROP COLUMN then UPDATE, TRUNCATE and INSERT in one transaction: no write fails, all recorded', async () => {
    const t = uniqueName('dropwrite');
    await db().exec(
      `create table ${t} (id int primary key, v text, gone text); insert into ${t} values (1, 'a', 'g')`,
    );
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(
      `begin;
       alter table ${t} drop column gone;
       update ${t} set v = 'b';
       alter table ${t} add column w int;
       truncate ${t};
       insert into ${t} values (2, 'c', 3);
       commit;`,
    );
    const rows = await changesFor(db(), 'public', t);
    expect(rows.map((r) => [r.op, r.data_after])).toEqual([
      ['update', { id: 1, v: 'b' }],
      ['truncate', null],
      ['insert', { id: 2, v: 'c', w: 3 }],
    ]);
  });

  it('a delete cascaded by a foreign key after a masked column was renamed away: both redacted', async () => {
    const t = uniqueName('child');
    await db().exec(
      `create table ${t}_parent (id int primary key);
       create table ${t} (id int primary key, parent int references ${t}_parent on delete cascade, secret text);
       insert into ${t}_parent values (1); insert into ${t} values (1, 1, 's1');`,
    );
    const tl = await installed(db(), { [t]: { mask: ['secret'] } });
    await tl.installTriggers({ tables: [t] });
    await db().exec(
      `begin;
       alter table ${t} rename column secret to old_secret;
       alter table ${t} add column secret text;
       delete from ${t}_parent where id = 1;
       commit;`,
    );
    expect((await changesFor(db(), 'public', t)).map((r) => [r.op, r.data_before])).toEqual([
      ['delete', { id: 1, parent: 1, old_secret: '[REDACTED]', secret: '[REDACTED]' }],
    ]);
  });

  it('a partition written directly after its parent changed shape in the same transaction', async () => {
    const t = uniqueName('ptree');
    await db().exec(
      `create table ${t} (id int, region text, primary key (id, region)) partition by list (region);
       create table ${t}_eu partition of ${t} for values in ('eu');`,
    );
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(
      `begin;
       alter table ${t} add column amount int;
       insert into ${t}_eu values (1, 'eu', 5);
       create table ${t}_us partition of ${t} for values in ('us');
       insert into ${t} values (2, 'us', 7);
       commit;`,
    );
    const rows = await changesFor(db(), 'public', t);
    expect(rows.map((r) => r.data_after)).toEqual([
      { id: 1, region: 'eu', amount: 5 },
      { id: 2, region: 'us', amount: 7 },
    ]);
  });
});

describeEachDb(
  'DDL regeneration once per transaction (event triggers)',
  (db) => {
    async function client(): Promise<pg.Client> {
      const c = new pg.Client({ connectionString: db().server!.url });
      await c.connect();
      return c;
    }
    const regenerations = async (c: pg.Client) =>
      Number(
        (
          await c.query<{ n: string }>(
            `select coalesce(sum(calls), 0) as n from pg_stat_xact_user_functions
              where schemaname = 'threadline' and funcname = 'enable_capture'`,
          )
        ).rows[0]!.n,
      );

    it('10 ADD COLUMNs in one transaction regenerate once, before the first write that follows', async () => {
      const t = uniqueName('batch');
      await db().exec(`create table ${t} (id int primary key, v text)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      const c = await client();
      try {
        await c.query('begin');
        await c.query("set local track_functions = 'all'");
        for (let i = 0; i < 10; i += 1) await c.query(`alter table ${t} add column c${i} int`);
        expect(await regenerations(c)).toBe(0);
        await c.query(`insert into ${t} (id, v, c9) values (1, 'a', 9)`);
        expect(await regenerations(c)).toBe(1);
        await c.query(`update ${t} set c0 = 0`);
        expect(await regenerations(c)).toBe(1);
        await c.query('commit');
      } finally {
        await c.end();
      }
      const rows = await changesFor(db(), 'public', t);
      expect(rows.map((r) => r.changed_fields)).toEqual([null, ['c0']]);
      expect(rows[0]!.data_after).toMatchObject({ id: 1, v: 'a', c0: null, c9: 9 });
    });

    it('a write regenerates only its own table: other tables altered in the transaction wait for their write or COMMIT', async () => {
      const t = uniqueName('own');
      const tables = [`${t}_a`, `${t}_b`, `${t}_c`, `${t}_small`];
      for (const x of tables)
        await db().exec(`create table ${x} (id int primary key, v int); insert into ${x} values (1, 0)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables });
      const c = await client();
      try {
        await c.query('begin');
        await c.query("set local track_functions = 'all'");
        for (const x of tables.slice(0, 3)) await c.query(`alter table ${x} add column w int`);
        await c.query(`update ${t}_small set v = 1`);
        expect(await regenerations(c)).toBe(0);
        await c.query(`update ${t}_a set w = 1`);
        expect(await regenerations(c)).toBe(1);
        await c.query('commit');
      } finally {
        await c.end();
      }
      expect(await countRows(db(), 'select 1 from threadline.capture_pending')).toBe(0);
      await db().exec(`update ${t}_b set w = 2; update ${t}_c set w = 3`);
      for (const [x, w] of [
        [`${t}_a`, 1],
        [`${t}_b`, 2],
        [`${t}_c`, 3],
      ] as const) {
        expect((await changesFor(db(), 'public', x)).map((r) => [r.changed_fields, r.data_after])).toEqual([
          [['w'], { id: 1, v: 0, w }],
        ]);
      }
    });

    it('after REINDEX CONCURRENTLY, a SHARE UPDATE EXCLUSIVE ALTER commits while a writer holds the table (no stronger lock)', async () => {
      const t = uniqueName('weaklock');
      await db().exec(`create table ${t} (id int primary key, v int)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      await db().exec(`reindex table concurrently ${t}`);
      const w = await client();
      const m = await client();
      try {
        await w.query('begin');
        await w.query(`insert into ${t} values (1, 1)`);
        await m.query('begin');
        await m.query("set local lock_timeout = '2s'");
        await m.query(`alter table ${t} set (fillfactor = 90)`);
        await m.query('commit');
        await w.query('commit');
      } finally {
        await w.end();
        await m.end();
      }
      await db().exec(`update ${t} set v = 2`);
      expect((await changesFor(db(), 'public', t)).map((r) => r.op)).toEqual(['insert', 'update']);
      const [reg] = await db().sql<{ same: boolean }>(
        `select shape = threadline.capture_shape(relid) as same from threadline.captured_tables where relid = $1::regclass`,
        [t],
      );
      expect(reg!.same).toBe(true);
    });

    it('making a masked column the primary key is refused at the ALTER itself, not at a later write or COMMIT', async () => {
      const t = uniqueName('maskkey');
      await db().exec(`create table ${t} (id int primary key, secret text not null)`);
      const tl = await installed(db(), { [t]: { mask: ['secret'] } });
      await tl.installTriggers({ tables: [t] });
      const c = await client();
      try {
        await c.query('begin');
        await expect(
          c.query(`alter table ${t} drop constraint ${t}_pkey, add primary key (secret)`),
        ).rejects.toMatchObject({
          code: 'TLRF1',
          message: expect.stringContaining('cannot be excluded or masked'),
        });
        await c.query('rollback');
      } finally {
        await c.end();
      }
    });

    it('the partitioned-table MERGE warning is raised at gen-triggers, not again on every ALTER or write after one', async () => {
      const t = uniqueName('partwarn');
      await db().exec(
        `create table ${t} (id int primary key, v text) partition by range (id);
         create table ${t}_1 partition of ${t} for values from (0) to (100)`,
      );
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      const c = await client();
      const notices: string[] = [];
      c.on('notice', (n) => notices.push(n.message ?? ''));
      try {
        await c.query(`alter table ${t} add column x int`);
        await c.query(
          `begin; alter table ${t} add column y int; insert into ${t} values (1, 'a', 1, 2); commit`,
        );
      } finally {
        await c.end();
      }
      expect(notices.filter((n) => n.includes('is partitioned'))).toEqual([]);
      expect((await changesFor(db(), 'public', t)).map((r) => r.data_after)).toEqual([
        { id: 1, v: 'a', x: 1, y: 2 },
      ]);
    });

    it('a transaction that only alters regenerates at commit; a rolled-back savepoint leaves nothing pending', async () => {
      const t = uniqueName('commitonly');
      await db().exec(`create table ${t} (id int primary key, v text)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      const c = await client();
      try {
        await c.query('begin');
        await c.query(`alter table ${t} add column w int`);
        await c.query('savepoint s');
        await c.query(`alter table ${t} add column gone int`);
        await c.query('rollback to savepoint s');
        await c.query('commit');
      } finally {
        await c.end();
      }
      expect(await countRows(db(), 'select 1 from threadline.capture_pending')).toBe(0);
      const [fn] = await db().sql<{ src: string }>(
        `select p.prosrc as src from threadline.captured_tables ct
           join pg_proc p on p.oid = to_regprocedure('threadline.' || quote_ident(ct.function_name) || '()')
          where ct.relid = $1::regclass`,
        [t],
      );
      expect(fn!.src).toMatch(/tl_n\.w IS DISTINCT FROM/);
      expect(fn!.src).not.toMatch(/\bgone\b/);
      await db().exec(`insert into ${t} values (1, 'a', 2); update ${t} set w = 3`);
      expect((await changesFor(db(), 'public', t)).map((r) => r.changed_fields)).toEqual([null, ['w']]);
    });

    it('a lock_timeout of the regeneration at COMMIT fails the COMMIT and loses no configuration', async () => {
      const t = uniqueName('commitlock');
      await db().exec(`create table ${t} (id int not null unique, v text)`);
      const tl = await installed(db(), { [t]: { primaryKey: ['id'] } });
      await tl.installTriggers({ tables: [t] });
      const holder = await client();
      const migrator = await client();
      try {
        const notices: string[] = [];
        migrator.on('notice', (n) => notices.push(n.message ?? ''));
        await migrator.query("set lock_timeout = '300ms'");
        await migrator.query('begin');
        // Changes the shape (NOT NULL) but no column name: nothing to write to the registry yet.
        await migrator.query(`alter table ${t} alter column v set not null`);
        await holder.query('begin');
        await holder.query('select 1 from threadline.captured_tables where relid = $1::regclass for update', [
          t,
        ]);
        await expect(migrator.query('commit')).rejects.toThrow(/lock timeout/);
        expect(notices.filter((m) => m.includes('threadline'))).toEqual([]);
        await holder.query('rollback');
      } finally {
        await holder.end();
        await migrator.end();
      }
      const [reg] = await db().sql<{ options: { primaryKey: string[] }; mode: string; notnull: boolean }>(
        `select ct.options, ct.mode, a.attnotnull as notnull from threadline.captured_tables ct
           join pg_attribute a on a.attrelid = ct.relid and a.attname = 'v' where ct.relid = $1::regclass`,
        [t],
      );
      expect([reg!.options.primaryKey, reg!.mode, reg!.notnull]).toEqual([['id'], 'compiled', false]);
      expect(await countRows(db(), 'select 1 from threadline.capture_pending')).toBe(0);
    });

    it('SET CONSTRAINTS ALL IMMEDIATE regenerates at each ALTER instead of at commit', async () => {
      const t = uniqueName('immediate');
      await db().exec(`create table ${t} (id int primary key, v text)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      const c = await client();
      try {
        await c.query('begin');
        await c.query("set local track_functions = 'all'");
        await c.query('set constraints all immediate');
        await c.query(`alter table ${t} add column x int`);
        await c.query(`alter table ${t} add column y int`);
        expect(await regenerations(c)).toBe(2);
        await c.query(`insert into ${t} values (1, 'a', 2, 3)`);
        await c.query('commit');
      } finally {
        await c.end();
      }
      expect((await changesFor(db(), 'public', t)).map((r) => r.data_after)).toEqual([
        { id: 1, v: 'a', x: 2, y: 3 },
      ]);
    });

    it('a role that may only write the table regenerates what its transaction altered before writing', async () => {
      const t = uniqueName('writer');
      const role = uniqueName('writer_role');
      await db().exec(
        `create role ${role}; create table ${t} (id int primary key, v text); grant insert, update, select on ${t} to ${role}`,
      );
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      await db().exec(
        `begin; alter table ${t} add column x int; set local role ${role}; insert into ${t} values (1, 'a', 5); commit;`,
      );
      expect((await changesFor(db(), 'public', t)).map((r) => r.data_after)).toEqual([
        { id: 1, v: 'a', x: 5 },
      ]);
      await db().exec(`drop table ${t}; drop role ${role}`);
    });
  },
  ['postgres'],
);
