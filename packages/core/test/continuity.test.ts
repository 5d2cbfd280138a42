import type { PGlite } from '@electric-sql/pglite';
import { type DbHandle, describeEachDb } from '@threadline/test-utils';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  ActorRef,
  type BaselineProgress,
  createThreadline,
  isThreadlineError,
  runWithAuditContext,
} from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

/** Run one statement and return the WARNINGs it raised (message and hint). */
async function warningsOf(
  handle: DbHandle,
  sql: string,
): Promise<{ message: string; hint: string | undefined }[]> {
  const seen: { message: string; hint: string | undefined; severity: string | undefined }[] = [];
  const note = (n: { message?: string; hint?: string; severity?: string }) =>
    seen.push({ message: n.message ?? '', hint: n.hint, severity: n.severity });
  if (handle.kind === 'pglite') {
    await (handle.db as PGlite).exec(sql, { onNotice: note });
  } else {
    const client = await (handle.db as pg.Pool).connect();
    client.on('notice', note);
    try {
      await client.query(sql);
    } finally {
      client.removeAllListeners('notice');
      client.release();
    }
  }
  return seen.filter((n) => n.severity === 'WARNING').map(({ message, hint }) => ({ message, hint }));
}

// One database per kind for the whole file (every test makes its own schema and tables): opening
// a database and the first install on it cost more than the tests themselves, most of all on PGlite.
describeEachDb('tl.continuity', (db) => {
  describe('baselines and reports', () => {
    it('ATTACH PARTITION of a table holding rows warns that they have no history and names the baseline command', async () => {
      const p = uniqueName('attwarn');
      await db().exec(`create table ${p} (id int not null, v text, primary key (id)) partition by range (id);
      create table ${p}_a partition of ${p} for values from (0) to (100);
      create table ${p}_b (id int not null, v text, primary key (id));
      create table ${p}_c (id int not null, v text, primary key (id));
      insert into ${p}_b values (100, 'pre');`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [p] });
      expect(
        await warningsOf(db(), `alter table ${p} attach partition ${p}_b for values from (100) to (200)`),
      ).toEqual([
        {
          message: `threadline: public.${p}_b was attached to audited table public.${p} with rows that have no history`,
          hint: `threadline continuity report lists them; record them as a baseline: threadline continuity baseline --table public.${p}`,
        },
      ]);
      // An empty table attaches without a warning.
      expect(
        await warningsOf(db(), `alter table ${p} attach partition ${p}_c for values from (200) to (300)`),
      ).toEqual([]);
    });

    it('an attached partition that already has rows shows them as rows without history; a baseline closes the gap', async () => {
      const p = uniqueName('attach');
      await db().exec(`create table ${p} (id int not null, v text, primary key (id)) partition by range (id);
      create table ${p}_a partition of ${p} for values from (0) to (100);
      create table ${p}_b (id int not null, v text, primary key (id));
      insert into ${p}_b select g, 'pre' from generate_series(100, 102) g;`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [p] });
      await db().exec(`insert into ${p} values (1, 'captured')`);
      await db().exec(`alter table ${p} attach partition ${p}_b for values from (100) to (200)`);
      const [gap] = (await tl.continuity.report({ tables: [p] })).tables;
      expect(gap).toMatchObject({ status: 'gap', rowsNow: 4, rowsWithoutHistory: 3 });
      await tl.continuity.baseline({ table: p, actor: ActorRef.system('ops') });
      const [closed] = (await tl.continuity.report({ tables: [p] })).tables;
      expect(closed).toMatchObject({ rowsNow: 4, rowsWithoutHistory: 0 });
    });

    it('reports rows with no history, records a batched baseline once, and asOf answers from it', async () => {
      const t = uniqueName('brown');
      await db().exec(`create table ${t} (org int, id int, email text, secret text, title text, primary key (org, id));
      insert into ${t} select 1, g, 'u' || g || '@x', 's' || g, 't' || g from generate_series(1, 5) g;`);
      const tl = await installed(db(), { [t]: { mask: ['email'], exclude: ['secret'] } });
      await tl.installTriggers({ tables: [t] });
      await db().exec(`update ${t} set title = 'changed' where id = 2`);
      const before = await tl.continuity.report({ tables: [t] });
      expect(before.tables).toEqual([
        {
          table: t,
          status: 'gap',
          capturedSince: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          rowsNow: 5,
          rowsWithoutHistory: 4,
          lastBaselineAt: null,
          hint: `record today's rows as a baseline: threadline continuity baseline --table ${t}`,
        },
      ]);
      const [{ now: beforeBaseline }] = (await db().sql<{ now: string }>(
        `select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as now`,
      )) as [{ now: string }];
      const seen: BaselineProgress[] = [];
      const result = await runWithAuditContext({ actor: ActorRef.user('ops-1'), correlationId: 'c-1' }, () =>
        tl.continuity.baseline({ table: t, batchSize: 2, onProgress: (p) => seen.push({ ...p }) }),
      );
      expect(result).toMatchObject({ table: t, batches: 3, scanned: 5, recorded: 4 });
      expect(seen.map((p) => [p.batch, p.scanned, p.recorded, p.total])).toEqual([
        [1, 2, 1, 5],
        [2, 4, 3, 5],
        [3, 5, 4, 5],
      ]);
      const rows = await db().sql<{
        op: string;
        table_pk: unknown;
        data_after: Record<string, unknown>;
        source: string;
        actor_ref: unknown;
      }>(
        `select c.op, c.table_pk, c.data_after, t.source, t.actor_ref from threadline.audit_changes c
         join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_schema = 'public' and c.table_name = $1 and c.op = 'baseline' order by c.table_pk->>'id'`,
        [t],
      );
      expect(rows.map((r) => r.table_pk)).toEqual([
        { org: 1, id: 1 },
        { org: 1, id: 3 },
        { org: 1, id: 4 },
        { org: 1, id: 5 },
      ]);
      expect(rows[0]!.data_after).toEqual({ org: 1, id: 1, email: '[REDACTED]', title: 't1' });
      expect(new Set(rows.map((r) => r.source))).toEqual(new Set(['threadline:baseline']));
      expect(rows[0]!.actor_ref).toEqual({ type: 'user', id: 'ops-1' });

      const again = await tl.continuity.baseline({ table: t, actor: ActorRef.system('ops') });
      expect(again).toMatchObject({ batches: 1, scanned: 5, recorded: 0 });
      const after = await tl.continuity.report({ tables: [t] });
      expect(after.tables[0]).toMatchObject({ status: 'complete', rowsNow: 5, rowsWithoutHistory: 0 });
      expect(after.tables[0]!.lastBaselineAt).toMatch(/^\d{4}-\d\d-\d\dT/);

      expect(await tl.asOf(t, { org: 1, id: 3 }, beforeBaseline)).toMatchObject({ status: 'before_horizon' });
      const now = await tl.asOf(t, { org: 1, id: 3 }, new Date(Date.now() + 60_000));
      expect(now).toMatchObject({
        status: 'found',
        row: { org: 1, id: 3, email: '[REDACTED]', title: 't3' },
      });
      expect(now.status === 'found' && now.change.op).toBe('baseline');
      await db().exec(`update ${t} set title = 'later' where id = 3`);
      const later = await tl.asOf(t, { org: 1, id: 3 }, new Date(Date.now() + 60_000));
      expect(later).toMatchObject({ status: 'found', row: { title: 'later' } });
      const history = await tl.history(t, { org: 1, id: 3 });
      expect(history.entries.map((e) => e.op)).toEqual(['update', 'baseline']);
      expect(tl.changeDiff(history.entries[1]!)).toMatchObject({ op: 'baseline', beforeKnown: false });
    });

    it('refuses a table without capture, without an actor, or with a bad batch size, naming the fix', async () => {
      const t = uniqueName('nocap');
      await db().exec(`create table ${t} (id int primary key)`);
      const tl = await installed(db());
      const codeOf = async (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (e) => (isThreadlineError(e) ? `${e.code}: ${e.message}` : String(e)),
        );
      expect(await codeOf(tl.continuity.baseline({ table: t, actor: ActorRef.system('ops') }))).toBe(
        `NOT_FOUND: continuity.baseline: ${t} is not captured; install capture first (threadline gen-triggers --tables ${t} --apply), then record the baseline`,
      );
      expect(await codeOf(tl.continuity.baseline({ table: t }))).toMatch(
        /^INVALID_ACTOR: continuity\.baseline: no actor/,
      );
      expect(
        await codeOf(tl.continuity.baseline({ table: t, batchSize: 0, actor: ActorRef.system('ops') })),
      ).toBe('QUERY_INVALID: continuity.baseline: batchSize must be an integer from 1 to 100000');
      const report = await tl.continuity.report({ tables: [t] });
      expect(report.tables[0]).toMatchObject({ status: 'not_captured', rowsNow: null });
    });
  });

  describe('keys beyond 2^53', () => {
    it('walks batches of one by exact bigint and numeric keys: every row once, none re-read or skipped', async () => {
      const t = uniqueName('bigkey');
      const n = uniqueName('numkey');
      await db().exec(`create table ${t} (id bigint primary key);
      insert into ${t} values (9007199254740993), (9007199254740994), (9007199254740995), (9007199254740996);
      create table ${n} (id numeric primary key);
      insert into ${n} values (12345678901234567.81), (12345678901234567.82), (12345678901234567.83);`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t, n] });
      for (const [table, rows] of [
        [t, 4],
        [n, 3],
      ] as const) {
        const result = await runWithAuditContext({ actor: ActorRef.system('baseline') }, () =>
          tl.continuity.baseline({ table, batchSize: 1 }),
        );
        expect(result).toMatchObject({ table, batches: rows, scanned: rows, recorded: rows });
        const [gap] = (await tl.continuity.report({ tables: [table] })).tables;
        expect(gap?.rowsWithoutHistory).toBe(0);
      }
    });
  });

  describe('NOT NULL domains', () => {
    it('walks batches of a table with a NOT NULL domain column (the cursor reads only the key, typed)', async () => {
      // The cursor was read as a record of the whole table type, its other columns NULL: the
      // domain refused them and every baseline of more than one batch failed.
      const t = uniqueName('dom');
      const d = uniqueName('nn');
      await db().exec(`create domain ${d} as int not null;
        create table ${t} (id int primary key, n ${d}, v text);
        insert into ${t} select g, g, 'v' from generate_series(1, 5) g`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      const result = await runWithAuditContext({ actor: ActorRef.system('baseline') }, () =>
        tl.continuity.baseline({ table: t, batchSize: 2 }),
      );
      expect(result).toMatchObject({ table: t, batches: 3, scanned: 5, recorded: 5 });
    });
  });

  describe('hostile names', () => {
    it('baselines a table whose schema, name and key columns need quoting, and whose key is a timestamp and text', async () => {
      await db().exec(`create schema "we""ird s"; create table "we""ird s"."T,1" ("Odd ""Key" text, "at" timestamptz, v text, primary key ("Odd ""Key", "at"));
      insert into "we""ird s"."T,1" values ('a''b', '2026-01-02 03:04:05.678+05', 'x'), ('c"d', '2026-01-02 00:00:00+00', 'y');`);
      const name = '"we""ird s"."T,1"';
      const tl = await installed(db());
      await tl.installTriggers({ tables: [name] });
      const result = await tl.continuity.baseline({
        table: name,
        batchSize: 1,
        actor: ActorRef.system('ops'),
      });
      expect(result).toMatchObject({ batches: 2, scanned: 2, recorded: 2 });
      expect(await tl.continuity.baseline({ table: name, actor: ActorRef.system('ops') })).toMatchObject({
        recorded: 0,
      });
      const state = await tl.asOf(
        name,
        { 'Odd "Key': "a'b", at: '2026-01-01T22:04:05.678+00:00' },
        new Date(Date.now() + 60_000),
      );
      expect(state).toMatchObject({ status: 'found', row: { v: 'x' } });
      await db().exec(`update "we""ird s"."T,1" set v = 'z' where v = 'y'`);
      const report = await tl.continuity.report({ tables: [name] });
      expect(report.tables[0]).toMatchObject({ status: 'complete', rowsNow: 2, rowsWithoutHistory: 0 });
    });
  });

  describe('installs made before baselines existed', () => {
    it('baseline says to run install; install drops the op check, idempotently', async () => {
      const schema = uniqueName('old_tl');
      const t = uniqueName('legacy');
      await db().exec(`create table ${t} (id int primary key); insert into ${t} values (1);`);
      const tl = createThreadline({ db: db().db, schema });
      await tl.install();
      await tl.installTriggers({ tables: [t] });
      await db().exec(
        `alter table ${schema}.audit_changes add constraint audit_changes_op_check check (op in ('insert', 'update', 'delete', 'truncate'));`,
      );
      const refused = await tl.continuity.baseline({ table: t, actor: ActorRef.system('ops') }).then(
        () => 'resolved',
        (e) => `${e.code}: ${e.message}`,
      );
      expect(refused).toBe(
        `NOT_INSTALLED: continuity.baseline: the storage schema "${schema}" predates baselines; run tl.install() or \`threadline install --apply\` to upgrade it (idempotent)`,
      );
      await tl.install();
      await tl.install();
      const defs = await db().sql<{ def: string }>(
        `select pg_get_constraintdef(oid) as def from pg_constraint where contype = 'c' and conname = 'audit_changes_op_check'
          and conrelid in (select relid from pg_partition_tree('${schema}.audit_changes'))`,
      );
      expect(defs).toHaveLength(0);
      expect(await tl.continuity.baseline({ table: t, actor: ActorRef.system('ops') })).toMatchObject({
        recorded: 1,
      });
    });
  });
});
