import { readFileSync } from 'node:fs';
import { type DbHandle, describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { createThreadline, type Threadline } from '../src/index.js';
import { uniqueName } from './helpers.js';

const V4_INSTALL = readFileSync(new URL('./fixtures/install-v4.sql', import.meta.url), 'utf8');

/** op:data@recorded name, oldest first. */
const ops = (entries: { op: string; dataAfter: unknown; dataBefore: unknown; tableName: string }[]) =>
  entries.map((e) => `${e.op}:${JSON.stringify(e.dataAfter ?? e.dataBefore)}@${e.tableName}`).reverse();

async function instant(db: DbHandle): Promise<Date> {
  await new Promise((r) => setTimeout(r, 5));
  const [row] = await db.sql<{ t: string }>(`select clock_timestamp()::text as t`);
  await new Promise((r) => setTimeout(r, 5));
  return new Date(row!.t);
}

// Found by the keys hunt: a name stood for every no-longer-captured table that ever had it, with
// all of its changes, so dropping a table that had been renamed away from a name changed what
// the name answered for the past.
describeEachDb('a name answers the same before and after an unrelated drop', (db) => {
  it('a table renamed away and then dropped adds only what it recorded under the name', async () => {
    const s = uniqueName('tidn');
    await db().exec(`create schema ${s}; create table ${s}.a (id int primary key, v text)`);
    const tl = createThreadline({ db: db().db });
    await tl.install();
    await tl.installTriggers({ tables: [`${s}.a`] });
    await db().exec(`insert into ${s}.a values (1, 'old1')`);
    await db().exec(`alter table ${s}.a rename to a_old; create table ${s}.a (id int primary key, v text)`);
    await tl.installTriggers({ tables: [`${s}.a_old`, `${s}.a`] });
    await db().exec(`insert into ${s}.a values (1, 'new1')`);
    await db().exec(`update ${s}.a_old set v = 'old2'`);
    const t = await instant(db());
    const answers = async () =>
      JSON.stringify([
        ops((await tl.history(`${s}.a`, 1)).entries),
        await tl.asOf(`${s}.a`, 1, t),
        ops((await tl.timeline({ table: `${s}.a` })).entries),
      ]);
    const before = await answers();
    expect(ops((await tl.history(`${s}.a`, 1)).entries)).toEqual(['insert:{"v":"new1","id":1}@a']);
    await db().exec(`drop table ${s}.a_old`);
    // The dropped table's change recorded under the name a is found by it (as for any dropped
    // table); its change recorded as a_old is not.
    expect(ops((await tl.history(`${s}.a`, 1)).entries)).toEqual([
      'insert:{"v":"old1","id":1}@a',
      'insert:{"v":"new1","id":1}@a',
    ]);
    const at = await tl.asOf(`${s}.a`, 1, t);
    expect(at.status === 'found' && at.row).toEqual({ id: 1, v: 'new1' });
    expect(JSON.parse(await answers())[2]).toHaveLength(2);
    expect(JSON.parse(before)[1]).toEqual(JSON.parse(await answers())[1]);
    // By its last name, the dropped table shows what it recorded under that name.
    expect(ops((await tl.history(`${s}.a_old`, 1)).entries)).toEqual(['update:{"v":"old2","id":1}@a_old']);
  });
});

async function v4(db: DbHandle): Promise<void> {
  await db.exec(`drop schema if exists threadline cascade`);
  await db.exec(V4_INSTALL);
}
const capture = (db: DbHandle, t: string) =>
  db.sql(`select threadline.enable_capture('public', $1, '{}'::jsonb)`, [t]);
async function upgraded(db: DbHandle): Promise<Threadline> {
  const tl = createThreadline({ db: db.db });
  await tl.install();
  await tl.storage.maintain();
  expect((await tl.storage.status()).unkeyedRows).toBe(0);
  return tl;
}

// Found by the keys hunt: keying rows written before table ids (schema < 7) compared a former
// name's `until` (the renaming transaction's start) with captured_at (later, for a row written in
// that transaction), and gave a former name no start, so rows went to the wrong table.
describeEachDb('keying rows written before table ids, by when each table had the name', (db) => {
  it('a row written in the renaming transaction stays with the renamed table, not the next table of that name', async () => {
    await v4(db());
    const a = uniqueName('k4a');
    await db().exec(`create table ${a} (id int primary key, v text)`);
    await capture(db(), a);
    await db().exec(`insert into ${a} values (1, 'a1')`);
    await db().exec(`begin; update ${a} set v = 'a2'; alter table ${a} rename to ${a}_b; commit`);
    await db().exec(`create table ${a} (id int primary key, v text)`);
    await capture(db(), a);
    await db().exec(`insert into ${a} values (1, 'new')`);
    const tl = await upgraded(db());
    expect(ops((await tl.history(`${a}_b`, 1)).entries)).toEqual([
      `insert:{"v":"a1","id":1}@${a}`,
      `update:{"v":"a2","id":1}@${a}`,
    ]);
    expect(ops((await tl.history(a, 1)).entries)).toEqual([`insert:{"v":"new","id":1}@${a}`]);
  });

  it('a former name holds only from when the table got it: a dropped table of that name stays apart', async () => {
    await v4(db());
    const x = uniqueName('k4x');
    await db().exec(`create table ${x} (id int primary key, v text)`);
    await capture(db(), x);
    await db().exec(`insert into ${x} values (1, 'dropped-x')`);
    await db().exec(`drop table ${x}; create table ${x}_y (id int primary key, v text)`);
    await capture(db(), `${x}_y`);
    await db().exec(`insert into ${x}_y values (1, 'y')`);
    await db().exec(`alter table ${x}_y rename to ${x}`);
    await db().exec(`alter table ${x} rename to ${x}_z`);
    const tl = await upgraded(db());
    expect(ops((await tl.history(`${x}_z`, 1)).entries)).toEqual([`insert:{"v":"y","id":1}@${x}_y`]);
    expect(ops((await tl.history(x, 1)).entries)).toEqual([`insert:{"v":"dropped-x","id":1}@${x}`]);
  });

  it('a row no single table can have written (a name swap in its own transaction) is keyed to its name only', async () => {
    await v4(db());
    const a = uniqueName('k4s');
    const b = `${a}_b`;
    await db().exec(
      `create table ${a} (id int primary key, v text); create table ${b} (id int primary key, v text)`,
    );
    await capture(db(), a);
    await capture(db(), b);
    await db().exec(`insert into ${a} values (1, 'a1'); insert into ${b} values (1, 'b1')`);
    await db().exec(`begin; update ${a} set v = 'a2'; alter table ${a} rename to ${a}_t;
      alter table ${b} rename to ${a}; alter table ${a}_t rename to ${b}; commit`);
    await db().exec(`update ${a} set v = 'b2'`);
    await db().exec(`update ${b} set v = 'a3'`);
    const tl = await upgraded(db());
    expect(ops((await tl.history(b, 1)).entries)).toEqual([
      `insert:{"v":"a1","id":1}@${a}`,
      `update:{"v":"a3","id":1}@${b}`,
    ]);
    // The swap's own row is found by the name it was recorded under, in no table's own history.
    expect(ops((await tl.history(a, 1)).entries)).toEqual([
      `insert:{"v":"b1","id":1}@${b}`,
      `update:{"v":"a2","id":1}@${a}`,
      `update:{"v":"b2","id":1}@${a}`,
    ]);
    const [row] = await db().sql<{ registered: boolean }>(
      `select exists (select 1 from threadline.captured_tables ct where ct.table_id = c.table_id) as registered
         from threadline.audit_changes c where c.data_after ->> 'v' = 'a2'`,
    );
    expect(row!.registered).toBe(false);
  });
});
