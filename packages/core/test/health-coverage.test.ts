import { describeEachDb } from '@threadline/test-utils';
import { describe, expect, it } from 'vitest';
import { createThreadline, isThreadlineError, type Threadline } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

/**
 * Threadline's event triggers refuse dropping or copying capture triggers; a superuser can still
 * switch them off first, which is exactly what health must then find from the catalogs.
 */
function withoutGuards(ddl: string): string {
  const toggle = (how: string) =>
    `do $$ declare e text; begin for e in select evtname from pg_event_trigger where evtname like 'threadline\\_%' loop execute format('alter event trigger %I ${how}', e); end loop; end $$;`;
  return `${toggle('disable')} ${ddl}; ${toggle('enable always')}`;
}

/** A fresh schema per test, so coverage sees only the tables that test made. */
async function schemaWith(db: Parameters<typeof installed>[0], sql: (s: string) => string): Promise<string> {
  const s = uniqueName('hs');
  await db.exec(`create schema ${s}; ${sql(s)}`);
  return s;
}

async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (error) {
    if (isThreadlineError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a ThreadlineError');
}

/** Run with DDL sync off (as on a database where the event trigger could not be created). */
async function withoutDdlSync(db: Parameters<typeof installed>[0], fn: () => Promise<void>): Promise<void> {
  const evs = await db.sql<{ evtname: string }>(
    "select evtname from pg_event_trigger where evtname like 'threadline\\_%'",
  );
  for (const e of evs) await db.exec(`alter event trigger ${e.evtname} disable`);
  try {
    await fn();
  } finally {
    for (const e of evs) await db.exec(`alter event trigger ${e.evtname} enable always`);
  }
}

// One database per kind for the whole file (every test makes its own schema and tables): opening
// a database and the first install on it cost more than the tests themselves, most of all on PGlite.
describeEachDb('tl.health', (db) => {
  describe('tl.health.coverage', () => {
    it('sorts tables into covered, uncovered and expected uncovered (baseline and config, minus auditAnyway)', async () => {
      const s = await schemaWith(
        db(),
        (s) => `create table ${s}.posts (id int primary key); create table ${s}.comments (id int primary key);
        create table ${s}.knex_migrations (id int primary key); create table ${s}._prisma_migrations (id text primary key);
        create table ${s}.schema_migrations (version text primary key); create table ${s}.vendor_cache (k text);`,
      );
      await installed(db());
      const tl = createThreadline({
        db: db().db,
        health: { expectedUncoveredTables: [`${s}.vendor_cache`], auditAnyway: [`${s}.schema_migrations`] },
      });
      await tl.installTriggers({ tables: [`${s}.posts`] });
      const report = await tl.health.coverage({ schema: s });
      expect(report.schemas).toEqual([
        {
          schema: s,
          covered: ['posts'],
          uncovered: ['comments', 'schema_migrations'],
          expectedUncovered: [
            { table: '_prisma_migrations', source: 'baseline' },
            { table: 'knex_migrations', source: 'baseline' },
            { table: 'vendor_cache', source: 'config' },
          ],
        },
      ]);
      expect(report.findings).toEqual([]);
      expect(Number.isNaN(Date.parse(report.checkedAt))).toBe(false);
    });

    it('never lists Threadline’s own tables, and by default checks public plus the schemas of captured tables', async () => {
      const s = await schemaWith(db(), (s) => `create table ${s}.orders (id int primary key);`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [`${s}.orders`] });
      const report = await tl.health.coverage();
      const names = report.schemas.map((x) => x.schema);
      expect(names).toContain(s);
      expect(names).not.toContain('threadline');
      expect(report.schemas.find((x) => x.schema === s)!.covered).toEqual(['orders']);
      const all = await tl.health.coverage({ schema: 'all' });
      expect(all.schemas.map((x) => x.schema)).not.toContain('threadline');
      expect(all.schemas.find((x) => x.schema === s)!.covered).toEqual(['orders']);
    });

    it('takes a schema name with quotes and spaces as it is, and names a schema that does not exist', async () => {
      const odd = `we"ird ${uniqueName('s')}`;
      await db().exec(
        `create schema "${odd.replace(/"/g, '""')}"; create table "${odd.replace(/"/g, '""')}".t (id int primary key)`,
      );
      const tl = await installed(db());
      await tl.installTriggers({ tables: [`"${odd.replace(/"/g, '""')}".t`] });
      const report = await tl.health.coverage({ schema: odd });
      expect(report.schemas).toEqual([{ schema: odd, covered: ['t'], uncovered: [], expectedUncovered: [] }]);
      const err = await errorOf(tl.health.coverage({ schema: "nope'; drop table x; --" }));
      expect(err.code).toBe('NOT_FOUND');
      expect(err.message).toContain(`health.coverage: schema "nope'; drop table x; --" does not exist`);
      const own = await errorOf(tl.health.coverage({ schema: 'threadline' }));
      expect(own.code).toBe('QUERY_INVALID');
    });

    it('says to install when Threadline is not installed in the database', async () => {
      const tl = createThreadline({ db: db().db, schema: uniqueName('notinstalled') });
      const err = await errorOf(tl.health.coverage());
      expect(err.code).toBe('NOT_INSTALLED');
      expect(err.message).toMatch(
        /^health\.coverage: Threadline is not installed .*threadline install --apply/,
      );
    });

    it('validates the health config, naming the key', async () => {
      const make = (health: unknown) => () => createThreadline({ db: db().db, health: health as never });
      expect(make({ expectedUncovered: ['x'] })).toThrow(
        'health: unknown key "expectedUncovered"; the known keys are expectedUncoveredTables, auditAnyway',
      );
      expect(make({ auditAnyway: ['a', 42] })).toThrow(
        'health.auditAnyway: entry 1 must be a table name string, got a number',
      );
      expect(make({ expectedUncoveredTables: 'x' })).toThrow(
        'health.expectedUncoveredTables: must be an array',
      );
      expect(make({ expectedUncoveredTables: ['a', 'public.a'] })).toThrow(
        'health.expectedUncoveredTables: lists a more than once',
      );
      expect(make({ expectedUncoveredTables: ['a'], auditAnyway: ['public.a'] })).toThrow(
        'health: a is in both expectedUncoveredTables and auditAnyway; keep it in one list',
      );
    });
  });

  describe('tl.health.findings', () => {
    async function captured(
      tables: string[],
      make: (s: string) => string,
    ): Promise<{ s: string; tl: Threadline }> {
      const s = await schemaWith(db(), make);
      const tl = await installed(db());
      await tl.installTriggers({ tables: tables.map((t) => `${s}.${t}`) });
      return { s, tl };
    }

    it('finds a disabled trigger (ALTER TABLE … DISABLE TRIGGER), and its fix re-enables it', async () => {
      const { s, tl } = await captured(['a'], (s) => `create table ${s}.a (id int primary key);`);
      await db().exec(`alter table ${s}.a disable trigger threadline_capture_update`);
      const findings = await tl.health.findings({ schema: s });
      expect(findings).toEqual([
        {
          code: 'capture_trigger_disabled',
          severity: 'error',
          schema: s,
          table: 'a',
          message: `${s}.a: capture trigger(s) threadline_capture_update disabled; changes are not recorded`,
          fix: `ALTER TABLE "${s}"."a" ENABLE TRIGGER "threadline_capture_update";`,
        },
      ]);
      const coverage = await tl.health.coverage({ schema: s });
      expect(coverage.schemas[0]!.uncovered).toEqual(['a']);
      await db().exec(findings[0]!.fix);
      expect(await tl.health.findings({ schema: s })).toEqual([]);
      expect((await tl.health.coverage({ schema: s })).schemas[0]!.covered).toEqual(['a']);
    });

    it('regenerating capture (ALTER TABLE with DDL sync, or installTriggers) keeps a trigger disabled or ENABLE ALWAYS', async () => {
      const { s, tl } = await captured(['a'], (s) => `create table ${s}.a (id int primary key);`);
      await db().exec(`alter table ${s}.a enable always trigger threadline_capture_insert;
      alter table ${s}.a disable trigger threadline_capture_delete;
      alter table ${s}.a add column note text;`);
      await tl.installTriggers({ tables: [`${s}.a`] });
      const states = await db().sql<{ tgname: string; tgenabled: string }>(
        'select tgname, tgenabled::text as tgenabled from pg_trigger where tgrelid = $1::regclass order by tgname',
        [`${s}.a`],
      );
      expect(states.map((r) => `${r.tgname}=${r.tgenabled}`)).toEqual([
        'threadline_capture_before=O',
        'threadline_capture_delete=D',
        'threadline_capture_insert=A',
        'threadline_capture_truncate=O',
        'threadline_capture_update=O',
      ]);
      expect((await tl.health.findings({ schema: s })).map((f) => f.code)).toEqual([
        'capture_trigger_disabled',
      ]);
    });

    it('finds a replica-only trigger and a dropped trigger', async () => {
      const { s, tl } = await captured(
        ['a', 'b'],
        (s) => `create table ${s}.a (id int primary key); create table ${s}.b (id int primary key);`,
      );
      await db().exec(
        `alter table ${s}.a enable replica trigger threadline_capture_insert; ${withoutGuards(`drop trigger threadline_capture_delete on ${s}.b`)}`,
      );
      const findings = await tl.health.findings({ schema: s });
      expect(findings.map((f) => [f.table, f.code, f.fix])).toEqual([
        [
          'a',
          'capture_trigger_disabled',
          `ALTER TABLE "${s}"."a" ENABLE ALWAYS TRIGGER "threadline_capture_insert";`,
        ],
        ['b', 'capture_trigger_missing', `threadline gen-triggers --tables ${s}.b --apply`],
      ]);
      expect(findings[1]!.message).toBe(
        `${s}.b has no capture trigger for delete; those changes are not recorded`,
      );
    });

    it('finds a capture trigger changed by hand (WHEN false), and gen-triggers repairs it (found by the health hunt)', async () => {
      const { s, tl } = await captured(['a'], (s) => `create table ${s}.a (id int primary key);`);
      const [reg] = await db().sql<{ function_name: string }>(
        'select function_name from threadline.captured_tables where relid = $1::regclass',
        [`${s}.a`],
      );
      await db().exec(
        `create or replace trigger threadline_capture_insert after insert on ${s}.a referencing new table as threadline_new_rows for each statement when (false) execute function threadline.${reg!.function_name}()`,
      );
      const findings = await tl.health.findings({ schema: s });
      expect(findings.map((f) => [f.table, f.code, f.severity, f.fix])).toEqual([
        ['a', 'capture_trigger_altered', 'error', `threadline gen-triggers --tables ${s}.a --apply`],
      ]);
      expect((await tl.health.coverage({ schema: s })).schemas[0]).toMatchObject({
        covered: [],
        uncovered: ['a'],
      });
      expect((await tl.health.verify({ expectedTables: [`${s}.a`] })).ok).toBe(false);
      await tl.installTriggers({ tables: [`${s}.a`] });
      expect(await tl.health.findings({ schema: s })).toEqual([]);
      await db().exec(`insert into ${s}.a values (1)`);
      const [n] = await db().sql<{ n: number }>(
        'select count(*)::int as n from threadline.audit_changes where table_schema = $1',
        [s],
      );
      expect(n!.n).toBe(1);
    });

    it('finds a hand-written trigger that calls another table’s capture function, and a duplicate', async () => {
      const { s, tl } = await captured(
        ['a', 'b'],
        (s) =>
          `create table ${s}.a (id int primary key); create table ${s}.b (id int primary key); create table ${s}.c (id int primary key);`,
      );
      const [reg] = await db().sql<{ function_name: string }>(
        'select function_name from threadline.captured_tables where relid = $1::regclass',
        [`${s}.a`],
      );
      const fn = `threadline.${reg!.function_name}`;
      await db().exec(
        withoutGuards(`
      create trigger sneaky after insert on ${s}.b referencing new table as threadline_new_rows for each statement execute function ${fn}();
      create trigger also_sneaky after insert on ${s}.c referencing new table as threadline_new_rows for each statement execute function ${fn}();
      create trigger twice after insert on ${s}.a referencing new table as threadline_new_rows for each statement execute function ${fn}();`),
      );
      const findings = await tl.health.findings({ schema: s });
      expect(findings.map((f) => [f.table, f.code, f.severity])).toEqual([
        ['a', 'duplicate_capture_trigger', 'error'],
        ['b', 'foreign_capture_function', 'error'],
        ['c', 'foreign_capture_function', 'error'],
      ]);
      expect(findings[0]!.fix).toBe(`DROP TRIGGER "twice" ON "${s}"."a";`);
      expect(findings[1]!.fix).toBe(`DROP TRIGGER "sneaky" ON "${s}"."b";`);
      expect(findings[1]!.message).toContain(
        `sneaky calls threadline.${reg!.function_name} (the capture function of ${s}.a)`,
      );
      expect(findings[2]!.fix).toBe(
        `DROP TRIGGER "also_sneaky" ON "${s}"."c"; -- then, to capture it: threadline gen-triggers --tables ${s}.c --apply`,
      );
      const coverage = await tl.health.coverage({ schema: s });
      expect(coverage.schemas[0]).toMatchObject({ covered: ['a'], uncovered: ['b', 'c'] });
      const verify = await tl.health.verify({ expectedTables: [`${s}.a`, `${s}.b`] });
      expect(verify.ok).toBe(false);
      expect(verify.tables).toEqual([
        { table: `${s}.a`, status: 'covered', errors: ['duplicate_capture_trigger'] },
        { table: `${s}.b`, status: 'uncovered', errors: ['foreign_capture_function'] },
      ]);
    });

    it('finds a Threadline-named trigger on a table with no registry row', async () => {
      const s = await schemaWith(
        db(),
        (s) => `create table ${s}.x (id int primary key);
        create function ${s}.mine() returns trigger language plpgsql as $$ begin return null; end $$;
        create trigger threadline_capture_insert after insert on ${s}.x for each statement execute function ${s}.mine();`,
      );
      const tl = await installed(db());
      const findings = await tl.health.findings({ schema: s });
      expect(findings).toEqual([
        {
          code: 'unregistered_capture',
          severity: 'error',
          schema: s,
          table: 'x',
          message: `${s}.x has Threadline trigger(s) threadline_capture_insert (calls ${s}.mine) but no entry in threadline.captured_tables`,
          fix: `DROP TRIGGER "threadline_capture_insert" ON "${s}"."x"; -- then, to capture it: threadline gen-triggers --tables ${s}.x --apply`,
        },
      ]);
    });

    it('finds key drift and a stale function when the table changed without DDL sync', async () => {
      const { s, tl } = await captured(
        ['k', 'w'],
        (s) =>
          `create table ${s}.k (id int primary key, code text not null); create table ${s}.w (id int primary key, a text);`,
      );
      await withoutDdlSync(db(), async () => {
        await db().exec(`alter table ${s}.k drop constraint k_pkey; alter table ${s}.k add primary key (code);
        alter table ${s}.w add column b text;`);
      });
      const findings = await tl.health.findings({ schema: s });
      expect(findings.map((f) => [f.table, f.code, f.severity, f.fix])).toEqual([
        ['k', 'key_drift', 'error', `threadline gen-triggers --tables ${s}.k --apply`],
        ['w', 'stale_capture_function', 'warning', `threadline gen-triggers --tables ${s}.w --apply`],
      ]);
      expect(findings[0]!.message).toBe(
        `${s}.k: capture records the key (id) but the table's primary key is now (code); history by key would miss rows`,
      );
      await tl.installTriggers({ tables: [`${s}.k`, `${s}.w`] });
      expect(await tl.health.findings({ schema: s })).toEqual([]);
    });

    it('verify: ok when every expected table is covered; missing and uncovered tables fail it', async () => {
      const { s, tl } = await captured(
        ['a'],
        (s) => `create table ${s}.a (id int primary key); create table ${s}.b (id int primary key);`,
      );
      expect(await tl.health.verify({ expectedTables: [`${s}.a`] })).toEqual({
        ok: true,
        tables: [{ table: `${s}.a`, status: 'covered', errors: [] }],
        findings: [],
      });
      const bad = await tl.health.verify({ expectedTables: [`${s}.a`, `${s}.b`, `${s}.gone`] });
      expect(bad.ok).toBe(false);
      expect(bad.tables.map((t) => [t.table, t.status])).toEqual([
        [`${s}.a`, 'covered'],
        [`${s}.b`, 'uncovered'],
        [`${s}.gone`, 'missing'],
      ]);
      const err = await errorOf(tl.health.verify({ expectedTables: [] }));
      expect(err).toEqual({
        code: 'QUERY_INVALID',
        message: 'health.verify: expectedTables must list at least one table',
      });
    });

    it('reads the catalogs in a constant number of queries, whatever the number of tables', async () => {
      const s = await schemaWith(db(), (s) =>
        Array.from({ length: 30 }, (_, i) => `create table ${s}.t${i} (id int primary key);`).join('\n'),
      );
      const tl = await installed(db());
      await tl.installTriggers({ tables: Array.from({ length: 30 }, (_, i) => `${s}.t${i}`) });
      let queries = 0;
      const counting = createThreadline({
        db: {
          kind: 'custom',
          query: (sql: string, params?: readonly unknown[]) => {
            queries++;
            return tl.client.query(sql, params);
          },
          exec: (sql: string) => tl.client.exec(sql),
          transaction: tl.client.transaction.bind(tl.client),
          queryAfter: tl.client.queryAfter.bind(tl.client),
        },
      });
      const report = await counting.health.coverage({ schema: s });
      expect(report.schemas[0]!.covered).toHaveLength(30);
      const first = queries;
      await db().exec(
        Array.from({ length: 30 }, (_, i) => `create table ${s}.u${i} (id int primary key);`).join('\n'),
      );
      queries = 0;
      await counting.health.coverage({ schema: s });
      expect(queries).toBe(first);
      expect(first).toBeLessThanOrEqual(7);
    });
  });

  describe('tl.health on partitioned tables', () => {
    it('lists the parent only; a disabled trigger on one partition makes the parent uncovered', async () => {
      const s = uniqueName('hp');
      await db().exec(`create schema ${s};
      create table ${s}.events (id int, at date, primary key (id, at)) partition by range (at);
      create table ${s}.events_2025 partition of ${s}.events for values from ('2025-01-01') to ('2026-01-01');
      create table ${s}.events_2026 partition of ${s}.events for values from ('2026-01-01') to ('2027-01-01');`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [`${s}.events`] });
      expect((await tl.health.coverage({ schema: s })).schemas).toEqual([
        { schema: s, covered: ['events'], uncovered: [], expectedUncovered: [] },
      ]);
      await db().exec(`alter table ${s}.events_2026 disable trigger threadline_capture_insert`);
      const report = await tl.health.coverage({ schema: s });
      expect(report.schemas[0]).toMatchObject({ covered: [], uncovered: ['events'] });
      expect(report.findings.map((f) => [f.table, f.code, f.fix])).toEqual([
        [
          'events_2026',
          'capture_trigger_disabled',
          `ALTER TABLE "${s}"."events_2026" ENABLE TRIGGER "threadline_capture_insert";`,
        ],
      ]);
    });
  });
});
