import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import {
  createThreadline,
  isThreadlineError,
  type TableCaptureOptions,
  type ThreadlineErrorCode,
} from '../src/index.js';
import { countRows, installed, uniqueName } from './helpers.js';

async function refusal(promise: Promise<unknown>): Promise<{ code: ThreadlineErrorCode; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isThreadlineError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describeEachDb('capture refusals', (db) => {
  const attempt = async (table: string, options?: TableCaptureOptions) => {
    const tl = await installed(db(), options ? { [table]: options } : {});
    return refusal(tl.installTriggers({ tables: [table] }));
  };

  it('refuses a table without a key, naming a qualifying unique index', async () => {
    const t = uniqueName('nokey');
    await db().exec(`create table ${t} (code text not null, v int); create unique index on ${t} (code);`);
    const r = await attempt(t);
    expect(r.code).toBe('CAPTURE_REFUSED');
    expect(r.message).toMatch(/has no primary key/);
    expect(r.message).toMatch(/primaryKey: \["code"\]/);
    const bare = uniqueName('bare');
    await db().exec(`create table ${bare} (v int)`);
    expect((await attempt(bare)).message).toMatch(/Add a primary key/);
  });

  it('accepts a primaryKey override only when a qualifying unique index backs it', async () => {
    const t = uniqueName('override');
    await db().exec(`create table ${t} (a int not null, b int not null, c int, d int not null);
      create unique index on ${t} (b, a); create unique index on ${t} (c); create unique index on ${t} (d) where d > 0;`);
    expect((await attempt(t, { primaryKey: ['c'] })).message).toMatch(
      /no unique index matches primaryKey \[c\].*nullable column/,
    );
    expect((await attempt(t, { primaryKey: ['d'] })).message).toMatch(/partial/);
    expect((await attempt(t, { primaryKey: ['a'] })).code).toBe('CAPTURE_REFUSED');
    const tl = await installed(db(), { [t]: { primaryKey: ['a', 'b'] } });
    const [plan] = await tl.installTriggers({ tables: [t] });
    expect(plan!.keyColumns).toEqual(['a', 'b']);
    expect(plan!.keySource).toBe('primaryKey option');
    await db().exec(`insert into ${t} values (1, 2, null, 3)`);
    const rows = await db().sql<{ table_pk: unknown }>(
      'select table_pk from threadline.audit_changes where table_name = $1',
      [t],
    );
    expect(rows[0]!.table_pk).toEqual({ a: 1, b: 2 });
  });

  it('refuses views, Threadline tables, partitions and missing tables', async () => {
    const v = uniqueName('view');
    await db().exec(`create view ${v} as select 1 as x`);
    expect(await attempt(v)).toMatchObject({
      code: 'CAPTURE_REFUSED',
      message: expect.stringMatching(/is a view/),
    });
    expect(await attempt('threadline.audit_changes')).toMatchObject({
      code: 'CAPTURE_REFUSED',
      message: expect.stringMatching(/own tables/),
    });
    const p = uniqueName('parted');
    await db().exec(`create table ${p} (id int, k int, primary key (id, k)) partition by range (k);
      create table ${p}_1 partition of ${p} for values from (0) to (10);`);
    expect(await attempt(`${p}_1`)).toMatchObject({
      code: 'CAPTURE_REFUSED',
      message: expect.stringMatching(/is a partition of .*Capture the partitioned table/),
    });
    expect(await attempt('no_such_table_here')).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/does not exist/),
    });
  });

  it('refuses unknown columns, redacted keys and exclude/mask overlap', async () => {
    const t = uniqueName('cols');
    await db().exec(`create table ${t} (id int primary key, email text)`);
    expect(await attempt(t, { mask: ['emial'] })).toMatchObject({
      code: 'CAPTURE_REFUSED',
      message: expect.stringMatching(/no column\(s\) emial.*Columns of .*: id, email/),
    });
    expect((await attempt(t, { exceptColumns: ['nope'] })).message).toMatch(/nope/);
    expect(await attempt(t, { mask: ['id'] })).toMatchObject({
      code: 'CAPTURE_REFUSED',
      message: expect.stringMatching(/key column\(s\) id cannot be excluded or masked/),
    });
    expect(() =>
      createThreadline({ db: db().db, tables: { [t]: { mask: ['email'], exclude: ['email'] } } }),
    ).toThrow(/both exclude and mask/);
  });

  it('validates options before touching the database', () => {
    const make = (options: unknown) => () =>
      createThreadline({ db: db().db, tables: { x: options as TableCaptureOptions } });
    expect(make({ primary_key: ['a'] })).toThrow(/did you mean "primaryKey"/);
    expect(make({ mask: 'email' })).toThrow(/mask must be an array/);
    expect(make({ maskPlaceholder: '' })).toThrow(/must not be empty/);
    expect(make({ maskPlaceholder: 'x'.repeat(201) })).toThrow(/at most 200/);
    expect(make({ maskPlaceholder: 'a\nb' })).toThrow(/control characters/);
    expect(make({ changedFrom: 'yes' })).toThrow(/true or false/);
    expect(() => createThreadline({ db: db().db, tables: { posts: {}, 'public.posts': {} } })).toThrow(
      /more than one key/,
    );
    expect(() => createThreadline({ db: {} })).toThrow(
      /db must be a node-postgres Pool or Client, a PGlite instance/,
    );
    expect(() => createThreadline({ db: db().db, schema: 'x'.repeat(64) })).toThrow(/longer than 63 bytes/);
  });

  it('also validates options given straight to the SQL generator (migrations)', async () => {
    const t = uniqueName('sqlopts');
    await db().exec(`create table ${t} (id int primary key, a text)`);
    await installed(db());
    await expect(
      db().sql(`select threadline.enable_capture('public', $1, '{"mask": "a"}')`, [t]),
    ).rejects.toThrow(/mask must be an array/);
    await expect(
      db().sql(`select threadline.enable_capture('public', $1, '{"bogus": 1}')`, [t]),
    ).rejects.toThrow(/unknown option/);
    await expect(
      db().sql(`select threadline.enable_capture('public', $1, '{"maskPlaceholder": "a\\u0007"}')`, [t]),
    ).rejects.toThrow(/control characters/);
  });

  it('rolls back every table when one is refused, leaving capture unchanged', async () => {
    const ok = uniqueName('ok');
    const bad = uniqueName('bad');
    await db().exec(`create table ${ok} (id int primary key); create table ${bad} (v int);`);
    const tl = await installed(db());
    await expect(tl.installTriggers({ tables: [ok, bad] })).rejects.toThrow(/no primary key/);
    expect(
      await countRows(
        db(),
        `select 1 from pg_trigger where tgrelid = '${ok}'::regclass and not tgisinternal`,
      ),
    ).toBe(0);
  });

  it('asks for install first', async () => {
    const tl = createThreadline({ db: db().db, schema: 'not_installed_here' });
    expect(await refusal(tl.installTriggers({ tables: ['x'] }))).toMatchObject({
      code: 'NOT_INSTALLED',
      message: expect.stringMatching(/install/),
    });
  });
});
