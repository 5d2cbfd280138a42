import { randomBytes } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import { type DbHandle, describeEachDb } from '@threadline/test-utils';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BIND_CONTEXT_SQL, type Threadline } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

interface Session {
  exec(sql: string): Promise<void>;
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
}

/** Run `fn` on one connection in a transaction as `role` (SET LOCAL ROLE); commit or roll back. */
async function asRole<T>(
  h: DbHandle,
  role: string,
  commit: boolean,
  fn: (s: Session) => Promise<T>,
): Promise<T> {
  let s: Session;
  let release = async (): Promise<void> => {};
  if (h.kind === 'postgres') {
    const c = await (h.db as pg.Pool).connect();
    s = {
      exec: async (sql) => void (await c.query(sql)),
      query: async <R>(sql: string, params?: unknown[]) => (await c.query(sql, params)).rows as R[],
    };
    release = async () => c.release();
  } else {
    const lite = h.db as PGlite;
    s = {
      exec: async (sql) => void (await lite.exec(sql)),
      query: async <R>(sql: string, params?: unknown[]) => (await lite.query<R>(sql, params)).rows,
    };
  }
  try {
    await s.exec('begin');
    await s.exec(`set local role ${role}`);
    const out = await fn(s);
    await s.exec(commit ? 'commit' : 'rollback');
    return out;
  } catch (error) {
    await s.exec('rollback').catch(() => undefined);
    throw error;
  } finally {
    await release();
  }
}

/** The error `sql` raises when run as `role` (in its own transaction), or null when it succeeds. */
async function refusal(h: DbHandle, role: string, sql: string): Promise<string | null> {
  try {
    await asRole(h, role, false, (s) => s.exec(sql));
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

const ISSUE_12_FORGERY = `insert into threadline.audit_changes(transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
values (1, 'public', 'posts', '{"id":999}', 'insert', '{"title":"forged"}', now() - interval '1 year')`;

/**
 * Issue 12 / SPEC 13: a role with only INSERT/UPDATE on its own table is captured and attributed,
 * binds context and records actions, but every direct write to Threadline's tables is refused.
 */
describeEachDb('application roles cannot forge, alter or delete audit rows', (db) => {
  const role = `tl_app_${randomBytes(4).toString('hex')}`;
  const own = `${role}_own`;
  let table: string;
  let tl: Threadline;

  beforeAll(async () => {
    table = uniqueName('ledger');
    tl = await installed(db());
    await db().exec(`create role ${role} nologin;
      create table ${table} (id int primary key, v text);
      grant insert, update on ${table} to ${role};
      create schema ${own} authorization ${role};`);
    await tl.installTriggers({ tables: [table] });
    // Another transaction's audit rows exist, for a forger to attach to.
    await db().exec(`begin; select set_config('threadline.actor_ref', '{"type":"user","id":"victim"}', true);
      insert into ${table} values (100, 'victim'); commit;`);
  });

  afterAll(async () => {
    await db().exec(`drop table if exists ${table}; drop schema if exists ${own} cascade;
      drop owned by ${role}; drop role if exists ${role};`);
  });

  it('captures and attributes the role, which can bind context and record actions', async () => {
    const action = await asRole(db(), role, true, async (s) => {
      await s.query(BIND_CONTEXT_SQL, ['{"type":"user","id":"app-user"}', '{"correlationId":"corr-app"}']);
      await s.exec(`insert into ${table} values (1, 'a')`);
      await s.exec(`update ${table} set v = 'b' where false`); // a no-op: nothing captured
      await s.exec(`update ${table} set v = 'b'`);
      const [row] = await s.query<{ action_id: string; transaction_id: string }>(
        `select action_id::text, transaction_id::text from threadline.record_action('ledger.posted',
           '{"type":"user","id":"app-user"}'::jsonb, 'ok', null, null, null, null, null, null, null, true)`,
      );
      return row!;
    });
    const rows = await db().sql<{ op: string; actor: string; corr: string; action: string | null }>(
      `select c.op, t.actor_ref->>'id' as actor, t.correlation_id as corr, t.action_id::text as action
         from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_name = $1 and t.actor_ref->>'id' = 'app-user' order by c.id`,
      [table],
    );
    expect(rows.map((r) => r.op)).toEqual(['insert', 'update', 'update']);
    for (const r of rows) {
      expect(r).toMatchObject({ actor: 'app-user', corr: 'corr-app', action: action.action_id });
    }
    const [linked] = await db().sql<{ n: number }>(
      'select count(*)::int as n from threadline.audit_actions where id = $1 and transaction_id::text = $2',
      [action.action_id, action.transaction_id],
    );
    expect(linked!.n).toBe(1);
  });

  it('record_action (callable by every role) holds the actor to the same rules as threadline.actor_ref', async () => {
    const call = (actor: string) =>
      `select * from threadline.record_action('x', '${actor}'::jsonb, 'ok', null, null, null, null, null, null, null, false)`;
    for (const actor of [
      '"not an object"',
      '{"type":"root","id":"x"}',
      '{"type":"user","id":"x","admin":true}',
      '{"type":"user","id":""}',
      `{"type":"user","id":"${'x'.repeat(300)}"}`,
      '{"type":"anonymous","id":"x"}',
    ]) {
      expect(await refusal(db(), role, call(actor)), actor).toMatch(/record_action/);
    }
    expect(await refusal(db(), role, call('{"type":"user","id":"  u7 "}'))).toBeNull();
  });

  it('record_action holds correlation, request and job ids to the rules of begin_audit_transaction (found by the capture hunt)', async () => {
    const attempt = (ids: (string | null)[]) =>
      asRole(db(), role, true, async (s) => {
        const [row] = await s.query<{ action_id: string }>(
          `select action_id::text from threadline.record_action('x', '{"type":"user","id":"u"}'::jsonb, 'ok',
             null, null, null, null, $1, $2, $3, false)`,
          ids,
        );
        return row!.action_id;
      }).catch((error: Error) => new Error(error.message));
    const cases: [(string | null)[], RegExp][] = [
      [['a\u0001b', null, null], /record_action: p_correlation_id must be NULL or a non-empty string/],
      [[null, 'x'.repeat(257), null], /record_action: p_request_id must/],
      [[null, null, '   '], /record_action: p_job_id must/],
      [['', null, 'line\u2028sep'], /record_action: p_correlation_id, p_job_id must/],
    ];
    for (const [ids, message] of cases) {
      const out = await attempt(ids);
      expect(out instanceof Error ? out.message : out, JSON.stringify(ids)).toMatch(message);
    }
    // Clean ids are stored, trimmed as begin_audit_transaction trims them.
    const id = await attempt([' corr-1 ', 'req-1', 'é'.repeat(128)]);
    expect(id).not.toBeInstanceOf(Error);
    const rows = await db().sql(
      'select correlation_id as c, request_id as r, job_id as j from threadline.audit_actions where id = $1',
      [id],
    );
    expect(rows).toEqual([{ c: 'corr-1', r: 'req-1', j: 'é'.repeat(128) }]);
  });

  it("refuses the forged INSERT from issue 12's text", async () => {
    expect(await refusal(db(), role, ISSUE_12_FORGERY)).toMatch(/permission denied/);
  });

  it('refuses every INSERT, UPDATE, DELETE and TRUNCATE on every Threadline table and partition', async () => {
    const tables = await db().sql<{ rel: string; col: string }>(
      `select format('%I.%I', n.nspname, c.relname) as rel,
              (select quote_ident(a.attname) from pg_attribute a where a.attrelid = c.oid and a.attnum > 0
                  and not a.attisdropped and a.attidentity = '' and a.attgenerated = '' order by a.attnum limit 1) as col
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'threadline' and c.relkind in ('r', 'p') order by 1`,
    );
    expect(tables.map((t) => t.rel)).toContain('threadline.audit_changes');
    const allowed: string[] = [];
    for (const { rel, col } of tables) {
      for (const sql of [
        `insert into ${rel} default values`,
        `update ${rel} set ${col} = ${col}`,
        `delete from ${rel}`,
        `truncate ${rel}`,
      ]) {
        const error = await refusal(db(), role, sql);
        if (!error || !/permission denied/.test(error)) allowed.push(`${sql}: ${error ?? 'succeeded'}`);
      }
    }
    expect(allowed).toEqual([]);
  });

  it("refuses moving any of Threadline's sequences", async () => {
    const seqs = await db().sql<{ seq: string }>(
      `select format('%I.%I', n.nspname, c.relname) as seq from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'threadline' and c.relkind = 'S' order by 1`,
    );
    expect(seqs.length).toBeGreaterThan(0);
    const allowed: string[] = [];
    for (const { seq } of seqs) {
      for (const sql of [`select setval('${seq}', 1)`, `select nextval('${seq}')`]) {
        const error = await refusal(db(), role, sql);
        if (!error || !/permission denied/.test(error)) allowed.push(`${sql}: ${error ?? 'succeeded'}`);
      }
    }
    expect(allowed).toEqual([]);
  });

  it("refuses attaching the table's capture function to a table of the role's own", async () => {
    const [fn] = await db().sql<{ name: string }>(
      'select function_name as name from threadline.captured_tables where table_name = $1',
      [table],
    );
    await asRole(db(), role, true, (s) => s.exec(`create table ${own}.fake (id int primary key, v text)`));
    const error = await refusal(
      db(),
      role,
      `create trigger fake after insert on ${own}.fake referencing new table as threadline_new_rows
         for each statement execute function threadline.${fn!.name}()`,
    );
    expect(error).toMatch(/permission denied for function/);
  });

  it("refuses capturing a table whose values would run the role's cast to json with the owner's rights", async () => {
    await asRole(db(), role, true, (s) =>
      s.exec(`create type ${own}.coin as (n int);
        create function ${own}.coin_json(${own}.coin) returns json language sql as $f$ select '{"forged": true}'::json $f$;
        create cast (${own}.coin as json) with function ${own}.coin_json(${own}.coin);
        create table ${own}.wallet (id int primary key, c ${own}.coin);
        create type ${own}.token as (n int);
        create function ${own}.token_json(${own}.token) returns json language sql as $f$ select '{"forged": true}'::json $f$;
        create table ${own}.purse (id int primary key, t ${own}.token[]);`),
    );
    await expect(tl.installTriggers({ tables: [`${own}.wallet`] })).rejects.toThrow(
      /cannot capture .*wallet: the cast from .*coin to json runs .*coin_json/,
    );
    // A cast created after capture is refused by the DDL event trigger (where there is one).
    const [sync] = await db().sql<{ on: boolean }>(
      `select exists (select 1 from pg_event_trigger where evtname = 'threadline_sync_' || md5('threadline')) as on`,
    );
    await tl.installTriggers({ tables: [`${own}.purse`] });
    const error = await refusal(
      db(),
      role,
      `create cast (${own}.token as json) with function ${own}.token_json(${own}.token)`,
    );
    if (sync!.on) expect(error).toMatch(/cannot capture .*purse: the cast from .*token to json/);
  });

  it("refuses ALTER TYPE / ALTER TABLE that make an audited column reach the role's cast to json; reports one at install", async () => {
    const [sync] = await db().sql<{ on: boolean }>(
      `select exists (select 1 from pg_event_trigger where evtname = 'threadline_sync_' || md5('threadline')) as on`,
    );
    await asRole(db(), role, true, (s) =>
      s.exec(`create type ${own}.addr as (street text);
        create table ${own}.shape (n int);
        create table ${own}.customers (id int primary key, a ${own}.addr, s ${own}.shape[]);
        create type ${own}.tag as enum ('x');
        create function ${own}.tag_json(${own}.tag) returns json language sql as $f$ select '{"forged": true}'::json $f$;
        create cast (${own}.tag as json) with function ${own}.tag_json(${own}.tag);
        create function ${own}.tag_jsonb(${own}.tag) returns jsonb language sql as $f$ select '{"forged": true}'::jsonb $f$;
        create cast (${own}.tag as jsonb) with function ${own}.tag_jsonb(${own}.tag);`),
    );
    await tl.installTriggers({ tables: [`${own}.customers`] });
    const viaType = await refusal(db(), role, `alter type ${own}.addr add attribute t ${own}.tag`);
    const viaRowType = await refusal(db(), role, `alter table ${own}.shape add column t ${own}.tag`);
    if (sync!.on) {
      expect(viaType).toMatch(/cannot capture .*customers: the cast from .*tag to json runs .*tag_json/);
      expect(viaRowType).toMatch(/cannot capture .*customers: the cast from .*tag to json runs .*tag_json/);
    }
    // A cast to jsonb is never used by to_jsonb (only casts to json are), so it is not refused.
    await asRole(db(), role, true, (s) =>
      s.exec(`create type ${own}.mark as enum ('y');
        create function ${own}.mark_jsonb(${own}.mark) returns jsonb language sql as $f$ select '{"forged": true}'::jsonb $f$;
        create cast (${own}.mark as jsonb) with function ${own}.mark_jsonb(${own}.mark);
        alter type ${own}.addr add attribute m ${own}.mark;`),
    );
    // Where such DDL got through anyway (event triggers off or missing), install reports it.
    const [evt] = await db().sql<{ name: string | null }>(
      `select (select evtname from pg_event_trigger where evtname = 'threadline_sync_' || md5('threadline')) as name`,
    );
    if (evt!.name) await db().exec(`alter event trigger ${evt!.name} disable`);
    try {
      await db().exec(`alter type ${own}.addr add attribute t ${own}.tag`);
    } finally {
      if (evt!.name) await db().exec(`alter event trigger ${evt!.name} enable always`);
    }
    try {
      const { findings } = await tl.install();
      expect(findings).toContainEqual({
        code: 'unsafe-cast',
        relation: `${own}.customers`,
        message: expect.stringMatching(/the cast from .*tag to json runs .*tag_json/),
      });
      // tl.health reports it too, with the fix; the jsonb cast (never run by to_jsonb) is not one.
      const unsafe = async () =>
        (await tl.health.findings({ schema: own, consistency: 'primary' })).filter(
          (f) => f.code === 'unsafe_cast',
        );
      const fix = `DROP CAST (${own}.tag AS json); -- or, once you have reviewed ${own}.tag_json(${own}.tag): ALTER FUNCTION ${own}.tag_json(${own}.tag) OWNER TO <a superuser>;`;
      expect(await unsafe()).toEqual([
        {
          code: 'unsafe_cast',
          severity: 'error',
          schema: own,
          table: 'customers',
          message: `capture of ${own}.customers would run another role's code with the rights of Threadline's owner: the cast from ${own}.tag to json runs ${own}.tag_json(${own}.tag), owned by ${role} (capture converts every value to JSON)`,
          fix,
        },
      ]);
      const gate = await tl.health.verify({ expectedTables: [`${own}.customers`], consistency: 'primary' });
      expect(gate.ok).toBe(false);
      expect(gate.tables).toEqual([
        { table: `${own}.customers`, status: 'covered', errors: ['unsafe_cast'] },
      ]);
      // Its fix (the first statement) repairs it.
      await db().exec(fix.slice(0, fix.indexOf(';') + 1));
      expect(await unsafe()).toEqual([]);
    } finally {
      await db().exec(`alter type ${own}.addr drop attribute t`);
    }
    expect((await tl.install()).findings.filter((f) => f.code === 'unsafe-cast')).toEqual([]);
  });

  it('an install made before (capture as the writer, INSERT granted to PUBLIC) is closed by re-running install', async () => {
    const [fn] = await db().sql<{ name: string }>(
      'select function_name as name from threadline.captured_tables where table_name = $1',
      [table],
    );
    // The earlier privilege model, as an older install left it.
    await db().exec(`grant insert on threadline.audit_changes to public;
      alter function threadline.${fn!.name}() security invoker;
      grant execute on function threadline.${fn!.name}() to public;
      update threadline.schema_version set version = 2;`);
    expect(await refusal(db(), role, ISSUE_12_FORGERY)).toBeNull();
    await tl.install();
    expect(await refusal(db(), role, ISSUE_12_FORGERY)).toMatch(/permission denied/);
    const [state] = await db().sql<{ secdef: boolean; public_exec: boolean }>(
      `select p.prosecdef as secdef, has_function_privilege('public', p.oid, 'execute') as public_exec
         from pg_proc p where p.oid = to_regprocedure($1)`,
      [`threadline.${fn!.name}()`],
    );
    expect(state).toEqual({ secdef: true, public_exec: false });
    await asRole(db(), role, true, (s) => s.exec(`insert into ${table} values (2, 'after upgrade')`));
    const [n] = await db().sql<{ n: number }>(
      `select count(*)::int as n from threadline.audit_changes where table_name = $1 and table_pk = '{"id": 2}'`,
      [table],
    );
    expect(n!.n).toBe(1);
  });

  it('install reports a role other than the owner that may write an audit table (audit-writable)', async () => {
    await db().exec(`grant insert, delete on threadline.audit_transactions to ${role}`);
    try {
      const result = await tl.install();
      expect(result.findings).toContainEqual({
        code: 'audit-writable',
        relation: 'threadline.audit_transactions',
        message: expect.stringMatching(
          new RegExp(`^${role} may DELETE, INSERT threadline.audit_transactions directly`),
        ),
      });
      expect(result.findings.filter((f) => f.code === 'audit-writable')).toHaveLength(1);
    } finally {
      await db().exec(`revoke insert, delete on threadline.audit_transactions from ${role}`);
    }
    expect((await tl.install()).findings.filter((f) => f.code === 'audit-writable')).toEqual([]);
  });

  it('audit-writable covers every Threadline table and sequence; retention and export tables are operational-writable', async () => {
    const grants = `grant update on sequence threadline.audit_changes_id_seq to ${role};
      grant insert on threadline.integrity_watermarks to ${role};
      grant delete on threadline.retention_runs to ${role};`;
    await db().exec(grants);
    try {
      const { findings } = await tl.install();
      expect(findings).toContainEqual(
        expect.objectContaining({ code: 'audit-writable', relation: 'threadline.audit_changes_id_seq' }),
      );
      expect(findings).toContainEqual(
        expect.objectContaining({ code: 'audit-writable', relation: 'threadline.integrity_watermarks' }),
      );
      expect(findings).toContainEqual(
        expect.objectContaining({ code: 'operational-writable', relation: 'threadline.retention_runs' }),
      );
    } finally {
      await db().exec(grants.replaceAll('grant ', 'revoke ').replaceAll(' to ', ' from '));
    }
    expect((await tl.install()).findings.filter((f) => f.code.endsWith('-writable'))).toEqual([]);
  });
});
