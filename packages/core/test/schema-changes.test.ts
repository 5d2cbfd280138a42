import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { changesFor, countRows, installed, uniqueName } from './helpers.js';

describeEachDb('ALTER TABLE and partitions', (db) => {
  it('keeps writes working and capture complete across add, drop, rename and retype', async () => {
    const t = uniqueName('evolve');
    await db().exec(`create table ${t} (id int primary key, title text, body text, email text, n int)`);
    const tl = await installed(db(), { [t]: { mask: ['email'] } });
    const [plan] = await tl.installTriggers({ tables: [t] });
    expect(plan!.mode).toBe('compiled');
    await db().exec(`insert into ${t} values (1, 'a', 'b', 'e@x', 1)`);
    await db().exec(`alter table ${t} add column views int default 0`);
    await db().exec(`update ${t} set views = 5`);
    await db().exec(`alter table ${t} drop column body`);
    await db().exec(`update ${t} set title = 'after drop'`);
    await db().exec(`alter table ${t} rename column title to headline`);
    await db().exec(`update ${t} set headline = 'renamed'`);
    await db().exec(`alter table ${t} rename column email to contact`);
    await db().exec(`update ${t} set contact = 'secret@x'`);
    await db().exec(`alter table ${t} alter column n type text using n::text`);
    await db().exec(`update ${t} set n = 'two'`);
    const rows = (await changesFor(db(), 'public', t)).filter((r) => r.op === 'update');
    expect(rows.map((r) => r.changed_fields)).toEqual([
      ['views'],
      ['title'],
      ['headline'],
      ['contact'],
      ['n'],
    ]);
    expect(rows[0]!.changed_from).toEqual({ views: 0 });
    expect(rows[2]!.changed_from).toEqual({ headline: 'after drop' });
    expect(rows[3]!.changed_from).toEqual({ contact: '[REDACTED]' });
    expect(rows[3]!.data_after).toMatchObject({ contact: '[REDACTED]' });
    expect(JSON.stringify(rows)).not.toContain('secret@x');
    expect(rows[4]!.changed_from).toEqual({ n: '1' });
    const [reg] = await db().sql<{ options: { mask: string[] } }>(
      'select options from threadline.captured_tables where relid = $1::regclass',
      [t],
    );
    // By name: the configured name stays (a column that comes back as email is masked again) and the rename is followed.
    expect(reg!.options.mask).toEqual(['email', 'contact']);
  });

  it('follows a renamed or moved table and removes the old function', async () => {
    const t = uniqueName('moving');
    await db().exec(`create table ${t} (id int primary key); create schema if not exists archive;`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const fns = () =>
      countRows(
        db(),
        "select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'threadline' and p.proname like 'capture\\_%'",
      );
    const before = await fns();
    await db().exec(`alter table ${t} rename to ${t}_renamed`);
    await db().exec(`insert into ${t}_renamed values (1)`);
    await db().exec(`alter table ${t}_renamed set schema archive`);
    await db().exec(`insert into archive.${t}_renamed values (2)`);
    expect((await changesFor(db(), 'public', `${t}_renamed`)).map((r) => r.table_pk)).toEqual([{ id: 1 }]);
    expect((await changesFor(db(), 'archive', `${t}_renamed`)).map((r) => r.table_pk)).toEqual([{ id: 2 }]);
    expect(await fns()).toBe(before);
    await db().exec(`drop table archive.${t}_renamed`);
    expect(await fns()).toBe(before - 1);
    expect(
      await countRows(db(), 'select 1 from threadline.captured_tables where table_name = $1', [
        `${t}_renamed`,
      ]),
    ).toBe(0);
  });

  it('keeps capturing when the key column is dropped (portable, keyless) instead of failing', async () => {
    const t = uniqueName('keyloss');
    await db().exec(`create table ${t} (id int primary key, v text)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(`alter table ${t} drop column id`);
    await db().exec(`insert into ${t} values ('still works')`);
    const rows = await changesFor(db(), 'public', t);
    expect(rows[0]).toMatchObject({ op: 'insert', table_pk: {}, data_after: { v: 'still works' } });
    const [reg] = await db().sql<{ mode: string }>(
      'select mode from threadline.captured_tables where relid = $1::regclass',
      [t],
    );
    expect(reg!.mode).toBe('portable');
  });

  it('portable mode (no DDL event trigger) never breaks writes and hides what it can no longer redact', async () => {
    const t = uniqueName('portable');
    await db().exec(`create table ${t} (id int primary key, title text, email text, body text)`);
    await installed(db());
    await db().sql(`select threadline.enable_capture('public', $1, '{"mask":["email"]}', 'portable')`, [t]);
    // Simulate a database where the event trigger could not be created: disable it for this ALTER.
    const [ev] = await db().sql<{ evtname: string }>(
      "select evtname from pg_event_trigger where evtname like 'threadline_sync_%' limit 1",
    );
    await db().exec(`alter event trigger ${ev!.evtname} disable`);
    try {
      await db().exec(`insert into ${t} values (1, 'a', 'e@x', 'b')`);
      await db().exec(`alter table ${t} drop column body`);
      await db().exec(`update ${t} set title = 'b'`);
      await db().exec(`alter table ${t} rename column email to contact`);
      await db().exec(`update ${t} set contact = 'leak@x'`);
      await db().exec(`delete from ${t}`);
    } finally {
      await db().exec(`alter event trigger ${ev!.evtname} enable always`);
    }
    const rows = await changesFor(db(), 'public', t);
    expect(rows.map((r) => r.op)).toEqual(['insert', 'update', 'update', 'delete']);
    expect(rows[1]).toMatchObject({ changed_fields: ['title'], changed_from: { title: 'a' } });
    expect(JSON.stringify(rows)).not.toContain('leak@x');
    expect(rows[2]!.data_after).toHaveProperty('threadline');
  });

  it('covers every partition of a partitioned table, including ones attached later', async () => {
    const p = uniqueName('events');
    await db().exec(`create table ${p} (id int, k int, v text, primary key (id, k)) partition by range (k);
      create table ${p}_a partition of ${p} for values from (0) to (100);`);
    const tl = await installed(db());
    const [plan] = await tl.installTriggers({ tables: [p] });
    expect(plan!.relations).toEqual([`public.${p}`, `public.${p}_a`]);
    await db().exec(`create table ${p}_b partition of ${p} for values from (100) to (200)`);
    await db().exec(
      `create table ${p}_c (id int not null, k int not null, v text); alter table ${p} attach partition ${p}_c for values from (200) to (300);`,
    );
    await db().exec(`insert into ${p} values (1, 1, 'via parent'), (2, 150, 'b'), (3, 250, 'c')`);
    await db().exec(`insert into ${p}_b values (4, 160, 'direct')`);
    await db().exec(`insert into ${p}_c values (5, 260, 'direct attached')`);
    await db().exec(`update ${p} set k = k + 100 where id = 1`); // moves a row across partitions
    await db().exec(`update ${p}_c set v = 'direct update' where id = 3`);
    await db().exec(`delete from ${p}_b where id = 4`);
    const rows = await changesFor(db(), 'public', p);
    expect(rows.map((r) => [r.op, r.table_pk])).toEqual([
      ['insert', { id: 1, k: 1 }],
      ['insert', { id: 2, k: 150 }],
      ['insert', { id: 3, k: 250 }],
      ['insert', { id: 4, k: 160 }],
      ['insert', { id: 5, k: 260 }],
      ['update', { id: 1, k: 101 }],
      ['update', { id: 3, k: 250 }],
      ['delete', { id: 4, k: 160 }],
    ]);
    expect(rows[5]).toMatchObject({ table_pk_before: { id: 1, k: 1 }, changed_fields: ['k'] });
    expect(await changesFor(db(), 'public', `${p}_b`)).toHaveLength(0);
    // TRUNCATE of the parent is one change; of one partition, one change naming it.
    await db().exec(`truncate ${p}`);
    await db().exec(`insert into ${p}_a values (9, 9, 'x'); truncate ${p}_a;`);
    const truncs = (await changesFor(db(), 'public', p)).filter((r) => r.op === 'truncate');
    expect(truncs).toHaveLength(2);
    expect(truncs[0]!.data_before).toBeNull();
    expect(truncs[1]!.data_before).toEqual({ partition: `public.${p}_a` });
    // Both in one DO block (one statement_timestamp()): each TRUNCATE is recorded once.
    await db().exec(
      `do $$ begin truncate ${p}; insert into ${p}_a values (8, 8, 'y'); truncate ${p}_a; end $$`,
    );
    const inBlock = (await changesFor(db(), 'public', p)).filter((r) => r.op === 'truncate').slice(2);
    expect(inBlock.map((r) => r.data_before)).toEqual([null, { partition: `public.${p}_a` }]);
    // A detached partition is no longer captured under the parent.
    await db().exec(`alter table ${p} detach partition ${p}_c`);
    await db().exec(`insert into ${p}_c values (7, 270, 'after detach')`);
    expect((await changesFor(db(), 'public', p)).some((r) => (r.table_pk as { id: number }).id === 7)).toBe(
      false,
    );
    expect(
      await countRows(
        db(),
        `select 1 from pg_trigger where tgrelid = '${p}_c'::regclass and tgname like 'threadline_%'`,
      ),
    ).toBe(0);
  });
});
