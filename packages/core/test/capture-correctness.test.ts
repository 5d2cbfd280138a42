import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { changesFor, installed, uniqueName } from './helpers.js';

const MODES = ['compiled', 'portable'] as const;

/** Changes an operator would call changes, recorded in the order they happened (issue 15). */
describeEachDb('capture records what really changed', (db) => {
  async function audited(columns: string, mode: string, options: object = {}): Promise<string> {
    const t = uniqueName(`c_${mode}`);
    await db().exec(`create table ${t} (${columns})`);
    await db().sql(`select threadline.enable_capture('public', $1, $2::jsonb, $3)`, [
      t,
      JSON.stringify(options),
      mode,
    ]);
    return t;
  }

  for (const mode of MODES) {
    it(`compares stored representations, not the type's = [${mode}]`, async () => {
      await installed(db());
      const t = await audited('id int primary key, n numeric, i interval, j jsonb', mode);
      await db().exec(`insert into ${t} values (1, 1.0, '1 mon', '{"a": 1.50}')`);
      await db().exec(`update ${t} set n = 1.00`);
      await db().exec(`update ${t} set i = '30 days'`);
      await db().exec(`update ${t} set j = '{"a": 1.5}'`);
      await db().exec(`update ${t} set n = 1.00, i = '30 days', j = '{"a": 1.5}'`);
      const rows = (await changesFor(db(), 'public', t)).slice(1);
      expect(rows.map((r) => [r.changed_fields, r.changed_from])).toEqual([
        [['n'], { n: 1.0 }],
        [['i'], { i: '1 mon' }],
        [['j'], { j: { a: 1.5 } }],
      ]);
      expect(rows.map((r) => JSON.stringify(r.changed_from))).toEqual([
        '{"n":1}',
        '{"i":"1 mon"}',
        '{"j":{"a":1.5}}',
      ]);
      const [after] = await db().sql<{ n: string; j: string }>(
        `select (data_after->'n')::text as n, (data_after->'j')::text as j from threadline.audit_changes
          where table_name = $1 order by id desc limit 1`,
        [t],
      );
      expect(after).toEqual({ n: '1.00', j: '{"a": 1.5}' });
    });

    it(`a json whitespace or key-order change is not a change (its jsonb image cannot show it) [${mode}]`, async () => {
      await installed(db());
      const t = await audited('id int primary key, doc json', mode);
      await db().exec(`insert into ${t} values (1, '{"a": 1, "b": 2}')`);
      await db().exec(`update ${t} set doc = '{"b":2,   "a":1}'`);
      await db().exec(`update ${t} set doc = '{"a": 1, "b": 2.0}'`);
      const rows = await changesFor(db(), 'public', t);
      expect(rows.map((r) => [r.op, r.changed_fields, r.changed_from])).toEqual([
        ['insert', null, null],
        ['update', ['doc'], { doc: { a: 1, b: 2 } }],
      ]);
      expect(rows[1]!.data_after).toEqual({ id: 1, doc: { a: 1, b: 2.0 } });
    });

    it(`a user's AFTER ROW trigger that updates its own row is captured after the insert [${mode}]`, async () => {
      await installed(db());
      const t = await audited('id int primary key, name text, path text, rev int not null default 0', mode);
      await db().exec(`
        create function ${t}_path() returns trigger language plpgsql as $$
        begin update ${t} set path = '/' || new.name, rev = rev + 1 where id = new.id; return null; end $$;
        create trigger ${t}_path after insert on ${t} for each row execute function ${t}_path();`);
      await db().exec(
        `begin; insert into ${t} (id, name) values (1, 'a'), (2, 'b'); update ${t} set name = 'c' where id = 1; commit;`,
      );
      const rows = await db().sql<{ op: string; id: number; data_after: Record<string, unknown> }>(
        `select op, (table_pk->>'id')::int as id, data_after from threadline.audit_changes
          where table_name = $1 order by captured_at, id`,
        [t],
      );
      const recorded = rows.map((r) => [r.op, r.id, r.data_after.path, r.data_after.rev]);
      // PGlite's clock (WebAssembly) can give the nested update the same captured_at as the
      // insert; then only the set of changes is checked there, on PostgreSQL their order too.
      const order = (list: unknown[][]) =>
        db().kind === 'pglite' ? [...list].map((x) => JSON.stringify(x)).sort() : list;
      expect(order(recorded)).toEqual(
        order([
          ['insert', 1, null, 0],
          ['insert', 2, null, 0],
          ['update', 1, '/a', 1],
          ['update', 2, '/b', 1],
          ['update', 1, '/a', 1],
        ]),
      );
      const stored = await db().sql(`select to_jsonb(x) as row from ${t} x order by id`);
      const last = new Map(rows.map((r) => [r.id, r.data_after]));
      expect(stored.map((s) => (s as { row: unknown }).row)).toEqual([last.get(1), last.get(2)]);
    });

    it(`a BEFORE INSERT trigger that drops a row moved between partitions: every row keeps its own keys [${mode}]`, async () => {
      await installed(db());
      const t = uniqueName(`moved_${mode}`);
      await db().exec(`
        create table ${t} (id int, region text, v int, primary key (id, region)) partition by list (region);
        create table ${t}_eu partition of ${t} for values in ('eu');
        create table ${t}_us partition of ${t} for values in ('us');
        create function ${t}_drop() returns trigger language plpgsql as $$
        begin if new.id = 2 then return null; end if; return new; end $$;
        create trigger ${t}_drop before insert on ${t}_us for each row execute function ${t}_drop();
        insert into ${t} values (1, 'eu', 1), (2, 'eu', 2), (3, 'eu', 3), (4, 'us', 4);`);
      await db().sql(`select threadline.enable_capture('public', $1, '{}', $2)`, [t, mode]);
      await db().exec(`update ${t} set region = 'us', v = v * 10`);
      const rows = await db().sql<{ op: string; pk: unknown; before: unknown; v: unknown }>(
        `select op, table_pk as pk, table_pk_before as before, coalesce(data_after, data_before)->'v' as v
           from threadline.audit_changes where table_name = $1 order by op, table_pk::text`,
        [t],
      );
      expect(rows).toEqual([
        { op: 'delete', pk: { id: 1, region: 'eu' }, before: null, v: 1 },
        { op: 'delete', pk: { id: 2, region: 'eu' }, before: null, v: 2 },
        { op: 'delete', pk: { id: 3, region: 'eu' }, before: null, v: 3 },
        { op: 'insert', pk: { id: 1, region: 'us' }, before: null, v: 10 },
        { op: 'insert', pk: { id: 3, region: 'us' }, before: null, v: 30 },
        { op: 'update', pk: { id: 4, region: 'us' }, before: null, v: 40 },
      ]);
      expect(await db().sql(`select id, region, v from ${t} order by id`)).toEqual([
        { id: 1, region: 'us', v: 10 },
        { id: 3, region: 'us', v: 30 },
        { id: 4, region: 'us', v: 40 },
      ]);
    });
  }

  it('an excluded column is never converted to JSON, so a value JSON cannot hold does not fail the write', async () => {
    // A type whose conversion to JSON fails stands in for a 135 MB bytea (beyond jsonb's 256 MB).
    await installed(db());
    await db().exec(`
      create type tl_unconvertible as enum ('x', 'y');
      create function tl_unconvertible_json(tl_unconvertible) returns json language sql
        as $$ select (1 / 0)::text::json $$;
      create cast (tl_unconvertible as json) with function tl_unconvertible_json(tl_unconvertible);`);
    const t = await audited('id int primary key, v text, blob tl_unconvertible', 'compiled', {
      exclude: ['blob'],
    });
    await db().exec(`insert into ${t} values (1, 'a', 'x')`);
    await db().exec(`update ${t} set v = 'b', blob = 'y'`);
    await db().exec(`delete from ${t}`);
    const rows = await changesFor(db(), 'public', t);
    expect(rows.map((r) => [r.op, r.data_after ?? r.data_before, r.changed_fields])).toEqual([
      ['insert', { id: 1, v: 'a' }, null],
      ['update', { id: 1, v: 'b' }, ['v']],
      ['delete', { id: 1, v: 'b' }, null],
    ]);
  });

  it('captures UPDATEs of a table with 1,000 columns', async () => {
    await installed(db());
    const columns = Array.from({ length: 999 }, (_, i) => `c${i} int`).join(', ');
    for (const mode of MODES) {
      const t = await audited(`id int primary key, ${columns}`, mode, { mask: ['c5'] });
      await db().exec(`insert into ${t} (id, c0, c998) values (1, 0, 0)`);
      await db().exec(`update ${t} set c0 = 1, c5 = 5, c998 = 2`);
      const rows = await changesFor(db(), 'public', t);
      expect(rows.map((r) => [r.op, r.changed_fields, r.changed_from])).toEqual([
        ['insert', null, null],
        ['update', ['c0', 'c5', 'c998'], { c0: 0, c5: '[REDACTED]', c998: 0 }],
      ]);
      expect(Object.keys(rows[1]!.data_after!)).toHaveLength(1000);
    }
  });

  it('refuses temporary tables and leaves no registry row or function behind', async () => {
    await installed(db());
    const t = uniqueName('temp');
    await expect(
      db().exec(`create temp table ${t} (id int primary key);
        select threadline.enable_capture(pg_my_temp_schema()::regnamespace::text, '${t}');`),
    ).rejects.toThrow(/is a temporary table; it disappears with its session/);
    const left = await db().sql<{ n: number }>(
      `select (select count(*) from threadline.captured_tables where table_name = $1)::int
            + (select count(*) from pg_proc where proname like '%' || $1 || '%')::int as n`,
      [t],
    );
    expect(left[0]!.n).toBe(0);
  });

  it('removing capture leaves no trigger behind, the BEFORE STATEMENT one included', async () => {
    const t = uniqueName('removed');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const count = async () =>
      (
        await db().sql<{ n: number }>(
          `select count(*)::int as n from pg_trigger where tgrelid = '${t}'::regclass and not tgisinternal`,
        )
      )[0]!.n;
    expect(await count()).toBe(5);
    await tl.removeTriggers({ tables: [t] });
    expect(await count()).toBe(0);
  });

  it('warns at install that MERGE cannot report rows it moves between partitions', async () => {
    const t = uniqueName('merge');
    await db().exec(`create table ${t} (id int, region text, primary key (id, region)) partition by list (region);
      create table ${t}_eu partition of ${t} for values in ('eu');`);
    const tl = await installed(db());
    const [plan] = await tl.installTriggers({ tables: [t] });
    expect(plan!.warnings).toEqual([
      `public.${t} is partitioned: PostgreSQL's transition tables do not report a MERGE whose UPDATE moves a row to another partition (the move is lost or recorded as a delete); make such moves with UPDATE, not MERGE (see docs/capture.md, Limits)`,
    ]);
  });
});

/** Collations and extension types need the real server (PGlite has no ICU and no contrib here). */
describeEachDb(
  'capture with non-deterministic collations and extension types',
  (db) => {
    for (const mode of MODES) {
      it(`records a case-only change under a case-insensitive collation, on the key too [${mode}]`, async () => {
        await installed(db());
        await db().exec(
          "create collation if not exists tl_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
        );
        const t = uniqueName(`ci_${mode}`);
        await db().exec(`create table ${t} (k text collate tl_ci primary key, name text collate tl_ci)`);
        await db().sql(`select threadline.enable_capture('public', $1, '{}', $2)`, [t, mode]);
        await db().exec(`insert into ${t} values ('k', 'alice')`);
        await db().exec(`update ${t} set name = 'ALICE'`);
        await db().exec(`update ${t} set k = 'K'`);
        const rows = await changesFor(db(), 'public', t);
        expect(
          rows.map((r) => [r.op, r.table_pk, r.table_pk_before, r.changed_fields, r.changed_from]),
        ).toEqual([
          ['insert', { k: 'k' }, null, null, null],
          ['update', { k: 'k' }, null, ['name'], { name: 'alice' }],
          ['update', { k: 'K' }, { k: 'k' }, ['k'], { k: 'k' }],
        ]);
      });

      it(`updates tables keyed by extension types (isbn13, ltree, hstore) [${mode}]`, async () => {
        await installed(db());
        await db().exec(
          'create extension if not exists isn; create extension if not exists ltree; create extension if not exists hstore;',
        );
        for (const [type, a, b] of [
          ['isbn13', '978-0-306-40615-7', '978-1-4028-9462-6'],
          ['ltree', 'top.a', 'top.b'],
          ['hstore', 'a=>1', 'a=>2'],
        ] as const) {
          const t = uniqueName(`ext_${mode}`);
          await db().exec(`create table ${t} (id ${type} primary key, v int)`);
          await db().sql(`select threadline.enable_capture('public', $1, '{}', $2)`, [t, mode]);
          await db().exec(`insert into ${t} values ('${a}', 1)`);
          await db().exec(`update ${t} set v = 2`);
          await db().exec(`update ${t} set id = '${b}'`);
          const rows = await changesFor(db(), 'public', t);
          expect(
            rows.map((r) => [r.op, r.changed_fields]),
            type,
          ).toEqual([
            ['insert', null],
            ['update', ['v']],
            ['update', ['id']],
          ]);
          expect(rows[2]!.table_pk_before, type).toEqual(rows[0]!.table_pk);
        }
      });
    }
  },
  ['postgres'],
);
