import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, runWithAuditContext } from '../src/index.js';
import { changesFor, countRows, installed, uniqueName } from './helpers.js';

describeEachDb('capture rules', (db) => {
  it('captures insert, update and delete with typed keys, diffs and the delete snapshot', async () => {
    const t = uniqueName('posts');
    await db().exec(
      `create table ${t} (id bigserial primary key, title text not null, views int default 0, tags jsonb, published boolean default false)`,
    );
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await tl.transaction(async (tx) => {
      await tx.query(`insert into ${t} (title, tags) values ('a', '["x"]'), ('b', null)`);
      await tx.query(`update ${t} set views = views + 1, published = true where title = 'a'`);
      await tx.query(`delete from ${t} where title = 'b'`);
    });
    const rows = await changesFor(db(), 'public', t);
    expect(rows.map((r) => r.op)).toEqual(['insert', 'insert', 'update', 'delete']);
    expect(rows[0]!.table_pk).toEqual({ id: 1 });
    expect(rows[0]!.data_after).toMatchObject({ id: 1, title: 'a', views: 0, tags: ['x'], published: false });
    expect(rows[2]!.changed_fields).toEqual(['published', 'views']);
    expect(rows[2]!.changed_from).toEqual({ published: false, views: 0 });
    expect(rows[2]!.data_after).toMatchObject({ id: 1, views: 1, published: true, title: 'a' });
    expect(rows[3]!.table_pk).toEqual({ id: 2 });
    expect(rows[3]!.data_before).toMatchObject({ id: 2, title: 'b' });
    expect(rows[3]!.data_after).toBeNull();
    // one audit transaction for the whole database transaction
    expect(new Set(rows.map((r) => r.transaction_id)).size).toBe(1);
  });

  it('keeps composite, uuid and text keys typed as PostgreSQL renders them', async () => {
    const m = uniqueName('memberships');
    const u = uniqueName('docs');
    const s = uniqueName('slugs');
    await db().exec(`
      create table ${m} (org_id int, user_id bigint, role text, primary key (org_id, user_id));
      create table ${u} (id uuid primary key, body text);
      create table ${s} (slug text primary key, n int);`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [m, u, s] });
    await tl.query(`insert into ${m} values (1, 9007199254740993, 'owner')`);
    await tl.query(`insert into ${u} values ('6f1c1f3e-9d5a-4c87-9b61-2f4a1f6d1c11', 'x')`);
    await tl.query(`insert into ${s} values ('hello-world', 1)`);
    expect((await changesFor(db(), 'public', m))[0]!.table_pk).toMatchObject({ org_id: 1 });
    const rawKey = await db().sql<{ k: string }>(
      `select table_pk::text as k from threadline.audit_changes where table_name = $1`,
      [m],
    );
    expect(rawKey[0]!.k).toBe('{"org_id": 1, "user_id": 9007199254740993}');
    expect((await changesFor(db(), 'public', u))[0]!.table_pk).toEqual({
      id: '6f1c1f3e-9d5a-4c87-9b61-2f4a1f6d1c11',
    });
    expect((await changesFor(db(), 'public', s))[0]!.table_pk).toEqual({ slug: 'hello-world' });
  });

  it('captures an UPDATE that changes the key with the old and the new key, even a key shift', async () => {
    const t = uniqueName('shift');
    await db().exec(`create table ${t} (id int primary key deferrable initially deferred, v text)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(`insert into ${t} select g, 'v' || g from generate_series(1, 50) g`);
    await db().exec(`update ${t} set id = id + 1`);
    const updates = (await changesFor(db(), 'public', t)).filter((r) => r.op === 'update');
    expect(updates).toHaveLength(50);
    for (const u of updates) {
      const before = (u.table_pk_before as { id: number }).id;
      expect((u.table_pk as { id: number }).id).toBe(before + 1);
      expect(u.changed_fields).toEqual(['id']);
      expect(u.changed_from).toEqual({ id: before });
      expect(u.data_after?.v).toBe(`v${before}`);
    }
  });

  it('writes nothing for statements that change nothing, and skips no-op updates', async () => {
    const t = uniqueName('noop');
    await db().exec(`create table ${t} (id int primary key, v text, updated_at timestamptz default now())`);
    const tl = await installed(db(), { [t]: { exceptColumns: ['updated_at'] } });
    await tl.installTriggers({ tables: [t] });
    const before = await countRows(db(), 'select 1 from threadline.audit_transactions');
    await db().exec(
      `insert into ${t} select 1, 'x' where false; update ${t} set v = 'y' where false; delete from ${t} where false;`,
    );
    expect(await countRows(db(), 'select 1 from threadline.audit_transactions')).toBe(before);
    await db().exec(`insert into ${t} values (1, 'x')`);
    await db().exec(`update ${t} set v = v`);
    await db().exec(`update ${t} set updated_at = now() + interval '1 day'`);
    const rows = await changesFor(db(), 'public', t);
    expect(rows.map((r) => r.op)).toEqual(['insert']);
  });

  it('redacts: exclude removes, mask hides everywhere, exceptColumns only skips detection', async () => {
    const t = uniqueName('users');
    await db().exec(
      `create table ${t} (id int primary key, email text, password_hash text, ssn text, last_seen timestamptz)`,
    );
    const tl = await installed(db(), {
      [t]: {
        exclude: ['password_hash'],
        mask: ['ssn', 'email'],
        maskPlaceholder: '***',
        exceptColumns: ['last_seen'],
      },
    });
    await tl.installTriggers({ tables: [t] });
    // Secrets no timestamp or id can contain by chance (a last_seen of …:43.123537 held '123').
    await db().exec(`insert into ${t} values (1, 'a@x.io', 'hash-secret-1', 'ssn-secret', now())`);
    await db().exec(
      `update ${t} set email = 'b@x.io', password_hash = 'hash-secret-2', last_seen = now() + interval '1 hour'`,
    );
    await db().exec(`update ${t} set password_hash = 'hash-secret-3'`);
    await db().exec(`delete from ${t}`);
    const rows = await changesFor(db(), 'public', t);
    expect(rows.map((r) => r.op)).toEqual(['insert', 'update', 'delete']);
    const text = JSON.stringify(rows);
    for (const secret of ['a@x.io', 'b@x.io', 'hash-secret', 'ssn-secret'])
      expect(text).not.toContain(secret);
    expect(rows[0]!.data_after).toMatchObject({ id: 1, email: '***', ssn: '***' });
    expect(rows[0]!.data_after).not.toHaveProperty('password_hash');
    expect(rows[1]!.changed_fields).toEqual(['email']);
    expect(rows[1]!.changed_from).toEqual({ email: '***' });
    expect(rows[1]!.data_after).toHaveProperty('last_seen');
    expect(rows[2]!.data_before).toMatchObject({ email: '***', ssn: '***' });
    expect(rows[2]!.data_before).not.toHaveProperty('password_hash');
  });

  it('switches changed_from and the delete snapshot off per table', async () => {
    const t = uniqueName('lean');
    await db().exec(`create table ${t} (id int primary key, v text)`);
    const tl = await installed(db(), { [t]: { changedFrom: false, deleteSnapshot: false } });
    await tl.installTriggers({ tables: [t] });
    await db().exec(`insert into ${t} values (1, 'a'); update ${t} set v = 'b'; delete from ${t};`);
    const rows = await changesFor(db(), 'public', t);
    expect(rows[1]).toMatchObject({ op: 'update', changed_fields: ['v'], changed_from: null });
    expect(rows[2]).toMatchObject({ op: 'delete', data_before: null, table_pk: { id: 1 } });
  });

  it('captures TRUNCATE as one change', async () => {
    const t = uniqueName('trunc');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(`insert into ${t} select generate_series(1, 10)`);
    await db().exec(`truncate ${t}`);
    const rows = (await changesFor(db(), 'public', t)).filter((r) => r.op === 'truncate');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.table_pk).toEqual({});
  });

  it('groups one audit transaction per database transaction and none for rollbacks', async () => {
    const t = uniqueName('grouping');
    await db().exec(`create table ${t} (id int primary key, v int)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const first = await tl.transaction(async (tx) => {
      await tx.query(`insert into ${t} values (1, 1)`);
      await tx.query(`update ${t} set v = 2`);
    });
    const second = await tl.transaction(async (tx) => {
      await tx.query(`update ${t} set v = 3`);
    });
    expect(first.auditTransactionId).not.toBe(second.auditTransactionId);
    await expect(
      tl.transaction(async (tx) => {
        await tx.query(`insert into ${t} values (2, 1)`);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await tl.transaction(async () => {
      await expect(
        tl.transaction(async (inner) => {
          await inner.query(`insert into ${t} values (3, 1)`);
          throw new Error('inner');
        }),
      ).rejects.toThrow('inner');
      await tl.query(`insert into ${t} values (4, 1)`);
    });
    const rows = await changesFor(db(), 'public', t);
    expect(rows.map((r) => [r.op, (r.table_pk as { id: number }).id])).toEqual([
      ['insert', 1],
      ['update', 1],
      ['update', 1],
      ['insert', 4],
    ]);
    const txIds = rows.map((r) => r.transaction_id);
    expect(txIds[0]).toBe(first.auditTransactionId);
    expect(txIds[1]).toBe(first.auditTransactionId);
    expect(txIds[2]).toBe(second.auditTransactionId);
    const orphans = await countRows(
      db(),
      'select 1 from threadline.audit_changes c where not exists (select 1 from threadline.audit_transactions t where t.id = c.transaction_id)',
    );
    expect(orphans).toBe(0);
  });

  it('finds the audit transaction again without relying on txid uniqueness', async () => {
    const t = uniqueName('txid');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    // An audit transaction row from "another cluster" that has the txid this transaction will get.
    await tl.transaction(async (tx) => {
      const { rows } = await tx.query<{ x: string }>('select txid_current()::text as x');
      await tx.query('insert into threadline.audit_transactions (txid) values ($1::bigint)', [rows[0]!.x]);
      await tx.query(`insert into ${t} values (1)`);
      await tx.query(`insert into ${t} values (2)`);
    });
    const rows = await changesFor(db(), 'public', t);
    expect(rows[0]!.transaction_id).toBe(rows[1]!.transaction_id);
    const dupes = await db().sql<{ n: number }>(
      'select count(*)::int as n from threadline.audit_transactions where txid = (select txid from threadline.audit_transactions where id = $1)',
      [rows[0]!.transaction_id],
    );
    expect(dupes[0]!.n).toBe(2);
  });

  it('never fails a write on a malformed context, and records that it was malformed', async () => {
    const t = uniqueName('ctx');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const cases: [string, string][] = [
      ['not json', ''],
      ['{"type":"robot","id":"1"}', ''],
      ['{"type":"user"}', ''],
      ['[]', '{"correlationId": 42.5e999}'],
      ['{"type":"user","id":"1"}', '{"correlationId": "' + 'x'.repeat(300) + '", "requestId": "ok"}'],
      ['{"type":"user","id":"1"}', 'nope'],
    ];
    let id = 0;
    for (const [actor, ctx] of cases) {
      id += 1;
      await tl.client.transaction(async (s) => {
        await s.query(
          "select set_config('threadline.actor_ref', $1, true), set_config('threadline.context', $2, true)",
          [actor, ctx],
        );
        await s.query(`insert into ${t} values ($1)`, [id]);
      });
    }
    const tx = await db().sql<{
      actor_ref: unknown;
      request_id: string | null;
      meta: { threadline_context_error?: Record<string, string> } | null;
    }>(
      `select t.actor_ref, t.request_id, t.meta from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_name = $1 order by c.id`,
      [t],
    );
    expect(tx).toHaveLength(cases.length);
    expect(tx[0]!.meta?.threadline_context_error?.actor_ref).toMatch(/not valid JSON/);
    expect(tx[1]!.meta?.threadline_context_error?.actor_ref).toMatch(/unknown type/);
    expect(tx[2]!.meta?.threadline_context_error?.actor_ref).toMatch(
      /needs an id that is a non-empty string/,
    );
    expect(tx[4]).toMatchObject({ actor_ref: { type: 'user', id: '1' }, request_id: 'ok' });
    // A JSON array as actor is refused; a numeric correlation id over 256 bytes is refused and named.
    expect(tx[3]).toEqual({
      actor_ref: null,
      request_id: null,
      meta: {
        threadline_context_error: {
          actor_ref: 'threadline.actor_ref has an unknown type',
          correlationId:
            'must be a non-empty string of at most 256 bytes (spaces at either end are trimmed) with no control, format or invisible character and no space other than U+0020',
        },
      },
    });
    expect(tx[4]!.meta).toEqual({
      threadline_context_error: {
        correlationId:
          'must be a non-empty string of at most 256 bytes (spaces at either end are trimmed) with no control, format or invisible character and no space other than U+0020',
      },
    });
    expect(tx[5]!.meta?.threadline_context_error?.context).toBe('threadline.context is not valid JSON');
    for (const row of tx.slice(0, 4)) expect(row.actor_ref).toBeNull();
  });

  it('attributes writes to the bound actor and context', async () => {
    const t = uniqueName('attr');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await runWithAuditContext(
      {
        actor: ActorRef.serviceAccount('billing'),
        correlationId: 'corr-1',
        requestId: 'req-1',
        jobId: 'job-1',
        causationId: 'req-0',
        source: 'test',
        meta: { ip: '10.0.0.1' },
      },
      () => tl.query(`insert into ${t} values (1)`),
    );
    const rows = await db().sql(
      `select t.actor_ref, t.correlation_id, t.request_id, t.job_id, t.causation_id, t.source, t.meta
         from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id where c.table_name = $1`,
      [t],
    );
    expect(rows[0]).toEqual({
      actor_ref: { type: 'service_account', id: 'billing' },
      correlation_id: 'corr-1',
      request_id: 'req-1',
      job_id: 'job-1',
      causation_id: 'req-0',
      source: 'test',
      meta: { ip: '10.0.0.1' },
    });
  });

  it('handles schema-qualified, mixed-case, quoted and over-long names', async () => {
    const schema = 'Billing Dept';
    const table = 'Invoice.Lines, 2024';
    const long = `a_${'very_long_name_'.repeat(3)}x`.slice(0, 63);
    await db().exec(`create schema "${schema}"; create table "${schema}"."${table}" ("Id" int primary key, "Amount" numeric);
      create table "${long}" (id int primary key); create table "${long.slice(0, 62)}y" (id int primary key);`);
    const tl = await installed(db());
    const plans = await tl.installTriggers({
      tables: [`"${schema}"."${table}"`, `"${long}"`, `"${long.slice(0, 62)}y"`],
    });
    expect(plans[0]!.keyColumns).toEqual(['Id']);
    expect(new Set(plans.map((p) => p.functionName)).size).toBe(3);
    for (const p of plans) expect(Buffer.byteLength(p.functionName)).toBeLessThanOrEqual(63);
    await db().exec(
      `insert into "${schema}"."${table}" values (1, 2.50); update "${schema}"."${table}" set "Amount" = 3;`,
    );
    await db().exec(`insert into "${long}" values (1); insert into "${long.slice(0, 62)}y" values (1);`);
    const rows = await changesFor(db(), schema, table);
    expect(rows.map((r) => r.op)).toEqual(['insert', 'update']);
    expect(rows[1]).toMatchObject({
      table_pk: { Id: 1 },
      changed_fields: ['Amount'],
      changed_from: { Amount: 2.5 },
    });
    expect(await changesFor(db(), 'public', long)).toHaveLength(1);
    expect(await changesFor(db(), 'public', `${long.slice(0, 62)}y`)).toHaveLength(1);
  });

  it('reruns safely: replaces in place with no gap and no orphaned functions', async () => {
    const t = uniqueName('rerun');
    await db().exec(`create table ${t} (id int primary key, v text, secret text)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const fnCount = () =>
      countRows(
        db(),
        "select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'threadline' and p.proname like 'capture\\_%'",
      );
    const trgCount = () =>
      countRows(db(), `select 1 from pg_trigger where tgrelid = '${t}'::regclass and not tgisinternal`);
    // insert, update, delete, truncate and the BEFORE STATEMENT trigger that dates the statement
    const fns = await fnCount();
    expect(await trgCount()).toBe(5);
    const tl2 = await installed(db(), { [t]: { mask: ['secret'] } });
    await tl2.installTriggers({ tables: [t] });
    await tl2.installTriggers({ tables: [t] });
    expect(await fnCount()).toBe(fns);
    expect(await trgCount()).toBe(5);
    await db().exec(`insert into ${t} values (1, 'a', 'top')`);
    expect((await changesFor(db(), 'public', t))[0]!.data_after).toMatchObject({ secret: '[REDACTED]' });
  });
});
