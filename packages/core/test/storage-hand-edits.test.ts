import { describeEachDb } from '@threadline/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { createThreadline, isThreadlineError, type Threadline } from '../src/index.js';
import { uniqueName } from './helpers.js';

/**
 * What hand edits of the audit storage can leave behind: a captured_at before year 1 or after
 * 9999, a partition detached by hand. Reads, status and maintain keep working (or say exactly
 * what to fix), and nothing captured is lost. An infinite captured_at reads as PostgreSQL spells
 * it ('infinity', '-infinity') and pages like any other.
 */
describeEachDb('storage after hand edits', (db) => {
  let tl: Threadline;

  beforeAll(async () => {
    tl = createThreadline({ db: db().db });
    await tl.install();
  });

  async function captured(prefix: string, n: number): Promise<string> {
    const t = uniqueName(prefix);
    await db().exec(`create table ${t} (id int primary key, v text)`);
    await tl.installTriggers({ tables: [t] });
    for (let i = 1; i <= n; i++) await db().exec(`insert into ${t} values (${i}, 'v${i}')`);
    return t;
  }

  /** The table's change ids in timeline order, straight from audit_changes. */
  const truthOrder = async (t: string) =>
    (
      await db().sql<{ id: string }>(
        `select id::text as id from threadline.audit_changes where table_name = $1 order by captured_at desc, id desc`,
        [t],
      )
    ).map((r) => r.id);

  /** Every timeline entry of the table, page by page. */
  const walk = async (t: string, pageSize = 1) => {
    const seen: { id: string; at: string }[] = [];
    let cursor: string | null = null;
    do {
      const page = await tl.timeline({ table: t }, { pageSize, ...(cursor ? { cursor } : {}) });
      seen.push(...page.entries.map((e) => ({ id: e.id, at: e.capturedAt })));
      cursor = page.cursor;
    } while (cursor);
    return seen;
  };

  const partitionNames = async () =>
    (
      await db().sql<{ name: string }>(
        'select name from threadline.storage_partitions() where not is_default order by lo',
      )
    ).map((r) => r.name);

  it('a captured_at in BC or after 9999 is read, paged, reported and partitioned like any other', async () => {
    const t = await captured('extreme', 4);
    await db().exec(`update threadline.audit_changes set captured_at = '0044-03-15 12:00:00+00 BC'
                       where table_name = '${t}' and table_pk = '{"id": 2}';
                     update threadline.audit_changes set captured_at = '12000-01-01 00:00:00+00'
                       where table_name = '${t}' and table_pk = '{"id": 3}';`);
    const truth = await truthOrder(t);
    // ISO 8601 expanded years (what Date reads): 12000 first, 44 BC (astronomical -43) last.
    const before = await walk(t);
    expect(before.map((e) => e.id)).toEqual(truth);
    expect(before[0]!.at).toBe('+012000-01-01T00:00:00.000000Z');
    expect(before[3]!.at).toBe('-000043-03-15T12:00:00.000000Z');
    expect(new Date(before[3]!.at).getUTCFullYear()).toBe(-43);
    expect((await tl.history(t, { id: 2 })).entries.map((e) => e.capturedAt)).toEqual([
      '-000043-03-15T12:00:00.000000Z',
    ]);

    const status = await tl.storage.status();
    const def = status.partitions.find((p) => p.isDefault)!;
    expect(def.oldestCapturedAt).toBe('-000043-03-15T12:00:00.000Z');
    expect(def.newestCapturedAt).toBe('+012000-01-01T00:00:00.000Z');
    const result = await tl.storage.maintain();
    expect(result.created).toEqual(
      expect.arrayContaining([
        {
          name: 'audit_changes_120000101',
          from: '+012000-01-01T00:00:00.000Z',
          to: '+012000-02-01T00:00:00.000Z',
          movedRows: 1,
        },
        {
          name: 'audit_changes_00440301_bc',
          from: '-000043-03-01T00:00:00.000Z',
          to: '-000043-04-01T00:00:00.000Z',
          movedRows: 1,
        },
      ]),
    );
    expect(result.defaultPartitionRows).toBe(0);
    expect((await tl.storage.maintain()).created).toEqual([]);
    expect((await tl.storage.status()).partitions.map((p) => p.name)).toEqual(
      expect.arrayContaining(['audit_changes_00440301_bc', 'audit_changes_120000101']),
    );
    expect(await walk(t)).toEqual(before);
    await db().exec(`insert into ${t} values (5, 'after')`);
    expect((await walk(t)).map((e) => e.id)).toHaveLength(5);
  });

  it("a captured_at of 'infinity' or '-infinity' is read and paged past, no row lost", async () => {
    const t = await captured('infinite', 4);
    await db().exec(`update threadline.audit_changes set captured_at = 'infinity'
                       where table_name = '${t}' and table_pk = '{"id": 2}';
                     update threadline.audit_changes set captured_at = '-infinity'
                       where table_name = '${t}' and table_pk = '{"id": 3}';`);
    const truth = await truthOrder(t);
    for (const pageSize of [1, 2]) {
      const seen = await walk(t, pageSize);
      expect(seen.map((e) => e.id)).toEqual(truth);
      expect(seen[0]!.at).toBe('infinity');
      expect(seen[3]!.at).toBe('-infinity');
    }
    // history pages the same way (its own query, the same cursor format).
    await db().exec(`update ${t} set v = 'later' where id = 2`);
    const newest = await tl.history(t, { id: 2 }, { pageSize: 1 });
    expect(newest.entries.map((e) => [e.op, e.capturedAt])).toEqual([['insert', 'infinity']]);
    const next = await tl.history(t, { id: 2 }, { pageSize: 1, cursor: newest.cursor! });
    expect(next.entries.map((e) => e.op)).toEqual(['update']);
    expect(next.cursor).toBeNull();
    // No partition holds an infinite captured_at: maintain leaves those rows in the default
    // partition and says so (it failed with "null values cannot be formatted as an SQL identifier").
    const maintained = await tl.storage.maintain();
    expect(maintained.defaultPartitionRows).toBe(2);
    expect((await tl.timeline({ table: t })).entries).toHaveLength(5);
    // The later tests here count default-partition rows: put the hand edits back.
    await db().exec(`update threadline.audit_changes set captured_at = now()
                       where table_name = '${t}' and not isfinite(captured_at)`);
  });

  it('maintain attaches back a partition detached by hand, with the rows the default partition took meanwhile', async () => {
    const t = await captured('detached', 2);
    const current = (await tl.storage.status()).partitions.find(
      (p) => !p.isDefault && Date.parse(p.from!) <= Date.now() && Date.now() < Date.parse(p.to!),
    )!.name;
    await db().exec(`alter table threadline.audit_changes detach partition threadline.${current}`);
    // Captured while it was detached: lands in the default partition.
    await db().exec(`insert into ${t} values (3, 'meanwhile')`);
    expect((await tl.timeline({ table: t })).entries).toHaveLength(1);
    const result = await tl.storage.maintain();
    expect(result.created.filter((c) => c.name === current)).toEqual([
      expect.objectContaining({ name: current, movedRows: 1 }),
    ]);
    expect(result.defaultPartitionRows).toBe(0);
    expect(await partitionNames()).toContain(current);
    expect((await tl.timeline({ table: t })).entries.map((e) => e.tablePk)).toEqual([
      { id: 3 },
      { id: 2 },
      { id: 1 },
    ]);
  });

  it('maintain names the table and the fix when a detached partition cannot be attached back', async () => {
    const t = await captured('misfit', 1);
    const current = (await tl.storage.status()).partitions.find(
      (p) => !p.isDefault && Date.parse(p.from!) <= Date.now() && Date.now() < Date.parse(p.to!),
    )!;
    const held = await db().sql(`select count(*)::int as n from threadline.${current.name}`);
    await db().exec(`alter table threadline.audit_changes detach partition threadline.${current.name};
      update threadline.${current.name} set captured_at = captured_at - interval '400 days';`);
    const error = await tl.storage.maintain().catch((e: unknown) => e);
    expect(isThreadlineError(error)).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^storage\\.maintain: threadline: threadline\\.${current.name} is not a partition of threadline\\.audit_changes \\(detached by hand\\?\\) and could not be attached back for .*Attach it back once every row fits that range: ALTER TABLE threadline\\.audit_changes ATTACH PARTITION threadline\\.${current.name} FOR VALUES FROM \\('.*'\\) TO \\('.*'\\); or, to keep it apart on purpose, rename it \\(ALTER TABLE threadline\\.${current.name} RENAME TO ${current.name}_detached\\)`,
      ),
    );
    // Nothing changed: the table is still there with its rows; capture still works.
    expect(await db().sql(`select count(*)::int as n from threadline.${current.name}`)).toEqual(held);
    await db().exec(`insert into ${t} values (2, 'still captured')`);
    // The named fix (rename) lets maintain finish.
    await db().exec(`alter table threadline.${current.name} rename to ${current.name}_detached`);
    expect((await tl.storage.maintain()).created.map((c) => c.name)).toContain(current.name);
    await db().exec(`drop table threadline.${current.name}_detached`);
  });
});
