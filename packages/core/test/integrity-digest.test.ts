import { type DbHandle, describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '../src/index.js';
import { uniqueName } from './helpers.js';

/** A fresh storage schema with two audited tables and `n` captured inserts into the first. */
async function setup(db: DbHandle, n: number) {
  const schema = uniqueName('digest');
  const table = uniqueName('dt');
  const other = uniqueName('du');
  await db.exec(`create table ${table} (id int primary key); create table ${other} (id int primary key)`);
  const tl = createThreadline({ db: db.db, schema });
  await tl.install();
  await tl.installTriggers({ tables: [table, other] });
  for (let i = 1; i <= n; i++) await write(tl, table, i);
  return { tl, table, other, s: `"${schema}"` };
}

const write = (tl: Threadline, table: string, id: number) =>
  runWithAuditContext({ actor: ActorRef.user('u') }, () =>
    tl.transaction((tx) => tx.query(`insert into ${table} values ($1)`, [id])),
  );

const changeIds = async (db: DbHandle, s: string) =>
  (await db.sql<{ id: string }>(`select id::text from ${s}.audit_changes order by id`)).map((r) => r.id);

/** Make changes look written before table ids (schema version 7): no table id, no key hash. */
const unkey = (db: DbHandle, s: string, ids: string[]) =>
  db.exec(`update ${s}.audit_changes set table_id = null, key_hash = null where id in (${ids.join(', ')})`);

/** Seal every row as a library from before digest versions did (integrity_rows version 1, no digest_version). */
async function sealAsVersion1(db: DbHandle, s: string) {
  for (const rel of ['audit_transactions', 'audit_changes']) {
    const [{ to }] = (await db.sql<{ to: string }>(
      `select coalesce(max(id), 0)::text as to from ${s}.${rel}`,
    )) as [{ to: string }];
    const [link] = await db.sql<{ id: string }>(
      `WITH r AS (SELECT * FROM ${s}.integrity_rows($1, 0, $2)),
        agg AS (SELECT count(*) AS n, string_agg(int8send(r.id) || r.digest, ''::bytea ORDER BY r.id) AS d,
                       string_agg(r.label, E'\\n' ORDER BY r.id) AS l, min(r.at) AS mi, max(r.at) AS ma FROM r)
       INSERT INTO ${s}.integrity_seals (kind, relation, range_from, range_to, row_count, rows_hash, labels_hash,
           digests, labels, min_at, max_at, prev_hash, hash)
       SELECT 'range', $1, 0, $2, agg.n, sha256(coalesce(agg.d, ''::bytea)), sha256(convert_to(coalesce(agg.l, ''), 'UTF8')),
           agg.d, agg.l, agg.mi, agg.ma, (SELECT s.hash FROM ${s}.integrity_seals s ORDER BY s.id DESC LIMIT 1), ''::bytea
         FROM agg RETURNING id::text AS id`,
      [rel, to],
    );
    await db.sql(
      `UPDATE ${s}.integrity_seals s SET hash = sha256(convert_to(${s}.integrity_link_text(s), 'UTF8')) WHERE s.id = $1`,
      [link!.id],
    );
  }
}

describeEachDb('integrity: what a row digest covers', (db) => {
  it("editing a sealed change's key hash or table id (which hides it from history and as-of) is named as altered", async () => {
    const { tl, other, s } = await setup(db(), 4);
    await tl.integrity.seal();
    expect((await tl.integrity.verify()).ok).toBe(true);
    const ids = await changeIds(db(), s);
    await db().exec(`update ${s}.audit_changes set key_hash = key_hash + 1 where id = ${ids[1]}`);
    await db().exec(`update ${s}.audit_changes set table_id = (select table_id from ${s}.captured_tables
      where table_name = '${other}') where id = ${ids[3]}`);
    const result = await tl.integrity.verify();
    expect(result.ok).toBe(false);
    expect(result.findings.map((f) => [f.kind, f.id])).toEqual([
      ['altered', ids[1]],
      ['altered', ids[3]],
    ]);
  });

  it('links sealed before digest versions keep verifying, also once the key backfill keyed their legacy rows', async () => {
    const { tl, table, s } = await setup(db(), 4);
    const ids = await changeIds(db(), s);
    await unkey(db(), s, ids.slice(0, 2));
    await sealAsVersion1(db(), s);
    expect((await tl.integrity.verify()).ok).toBe(true);
    const maintained = await tl.storage.maintain();
    expect(maintained.keyedRows).toBe(2);
    let result = await tl.integrity.verify();
    expect(result.findings).toEqual([]);
    expect(result).toMatchObject({ ok: true, rowsChecked: 8 });
    // Sealing goes on after them with the current version; both verify.
    await write(tl, table, 5);
    expect((await tl.integrity.seal()).sealedRows).toBe(2);
    const versions = await db().sql<{ v: number }>(
      `select digest_version::int as v from ${s}.integrity_seals order by id`,
    );
    expect(versions.map((r) => r.v)).toEqual([1, 1, 2, 2]);
    result = await tl.integrity.verify();
    expect(result).toMatchObject({ ok: true, rowsChecked: 10 });
  });

  it('a seal stops before a change not keyed yet; once storage maintain keyed it, the next seal takes it and it verifies', async () => {
    const { tl, s } = await setup(db(), 4);
    const ids = await changeIds(db(), s);
    await unkey(db(), s, ids.slice(2));
    const first = await tl.integrity.seal();
    expect(first.sealedThrough.audit_changes).toBe(String(BigInt(ids[2]!) - 1n));
    expect(first.pending).toMatchObject({ unkeyedChange: ids[2], openTransactions: 0 });
    await tl.storage.maintain();
    const second = await tl.integrity.seal();
    expect(second.sealedThrough.audit_changes).toBe(ids[3]);
    expect(second.pending).toBeNull();
    const result = await tl.integrity.verify();
    expect(result.findings).toEqual([]);
    expect(result).toMatchObject({ ok: true, rowsChecked: 8 });
  });

  it('a link moved back to digest version 1 (which does not cover the keys) no longer hashes to its hash', async () => {
    const { tl, s } = await setup(db(), 2);
    await tl.integrity.seal();
    await db().exec(`update ${s}.integrity_seals set digest_version = 1 where relation = 'audit_changes'`);
    const result = await tl.integrity.verify();
    expect(result.ok).toBe(false);
    expect(result.findings.map((f) => f.kind)).toContain('seal_altered');
  });
});
