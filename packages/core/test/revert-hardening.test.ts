import { describeEachDb } from '@threadline/test-utils';
import type pg from 'pg';
import { expect, it } from 'vitest';
import { ActorRef, isThreadlineError, runWithAuditContext, type Threadline } from '../src/index.js';
import type { RevertPlan } from '../src/revert/types.js';
import { installed, uniqueName } from './helpers.js';
import { auditTransactionCount, snapshot } from './revert-helpers.js';

// Found by the revert hunt (hunt/t2, t4, t5, t7, t9, t10, t12): edited plans, force, the order of a
// row's changes, dropped columns, writer session settings, swapped keys.

const admin = ActorRef.admin('ops-1');
const as = <T>(actor: ActorRef, fn: () => Promise<T>) => runWithAuditContext({ actor }, fn);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

async function changeIn(tl: Threadline, sql: string, who = 'script'): Promise<string> {
  const { auditTransactionId } = await as(ActorRef.user(who), () => tl.transaction((tx) => tx.query(sql)));
  return auditTransactionId!;
}

describeEachDb('revert: hardening', (db) => {
  it('applies a plan read back from JSON only when planning again gives the same plan; every edit is refused, changing nothing', async () => {
    const t = uniqueName('acct');
    const s = uniqueName('secret');
    await db().exec(`create table ${t} (id int primary key, bal int); insert into ${t} values (1, 10), (2, 20);
                     create table ${s} (id int primary key, pw text); insert into ${s} values (1, 'pw');`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const other = await changeIn(tl, `update ${t} set bal = 21 where id = 2`);
    const bad = await changeIn(tl, `update ${t} set bal = 0 where id = 1`);
    const plan = await tl.revert.plan({ transactionId: bad });
    const text = JSON.stringify(plan);
    const edits: [string, (p: RevertPlan & Record<string, never>) => void][] = [
      [
        'a table capture never saw',
        (p) =>
          Object.assign(p.steps[0]!, {
            tableName: s,
            key: '{"id": 1}',
            expect: '{"id": 1, "pw": "pw"}',
            data: '{"pw":"hacked"}',
          }),
      ],
      [
        'the audit trail itself',
        (p) =>
          Object.assign(p.steps[0]!, {
            op: 'delete',
            tableSchema: 'threadline',
            tableName: 'audit_changes',
            key: '{"id": 1}',
            expect: '{"id": 1}',
          }),
      ],
      ['an unknown op', (p) => Object.assign(p.steps[0]!, { op: 'truncate' })],
      ['forged values', (p) => Object.assign(p.steps[0]!, { data: '{"bal":12345}' })],
      ['a non-key column as key', (p) => Object.assign(p.steps[0]!, { pk: { bal: 0 }, key: '{"bal": 0}' })],
      ['wrong types', (p) => Object.assign(p.steps[0]!, { key: 42, data: null })],
      ['an extra step', (p) => p.steps.push({ ...p.steps[0]!, key: '{"id": 2}', pk: { id: 2 } })],
      ['another target', (p) => Object.assign(p.summary, { target: { transactionId: other } })],
    ];
    const state = [await snapshot(db(), t, 'id'), await snapshot(db(), s, 'id')];
    const txCount = await auditTransactionCount(db());
    const changes = await db().sql<{ n: number }>('select count(*)::int as n from threadline.audit_changes');
    for (const [what, edit] of edits) {
      const edited = JSON.parse(text);
      edit(edited);
      const error = await failure(as(admin, () => tl.revert.apply(edited)));
      expect(isThreadlineError(error), what).toBe(true);
      expect([await snapshot(db(), t, 'id'), await snapshot(db(), s, 'id')], what).toEqual(state);
    }
    expect(await auditTransactionCount(db())).toBe(txCount);
    expect(await db().sql('select count(*)::int as n from threadline.audit_changes')).toEqual(changes);
    // The plan as returned cannot be edited in place.
    expect(() => {
      (plan.steps[0] as { data: string | null }).data = '{"bal":1}';
    }).toThrow(TypeError);
    // Unedited, the JSON copy applies.
    await as(admin, () => tl.revert.apply(JSON.parse(text)));
    expect(await snapshot(db(), t, 'id')).toEqual(['{"id": 1, "bal": 10}', '{"id": 2, "bal": 21}']);
  });

  it("a change naming one of Threadline's own tables (a forged audit row) is refused, never written", async () => {
    const t = uniqueName('acct');
    await db().exec(`create table ${t} (id int primary key, bal int); insert into ${t} values (1, 10);`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const bad = await changeIn(tl, `update ${t} set bal = 0`);
    const [first] = await db().sql<{ id: string }>(
      'select min(id)::text as id from threadline.audit_transactions',
    );
    await db().exec(`insert into threadline.audit_changes (transaction_id, table_schema, table_name, op, table_pk, data_after, captured_at)
                     values (${bad}, 'threadline', 'audit_transactions', 'insert', '{"id": ${first!.id}}', '{"id": ${first!.id}}', now())`);
    const txCount = await auditTransactionCount(db());
    const error = await failure(tl.revert.plan({ transactionId: bad }));
    expect(isThreadlineError(error, 'REVERT_REFUSED')).toBe(true);
    expect((error as Error).message).toBe(
      "revert: threadline.audit_transactions is one of Threadline's own tables; the audit trail is never reverted",
    );
    expect(await auditTransactionCount(db())).toBe(txCount);
  });

  it('a plan whose conflicts were removed is refused, also with force', async () => {
    const t = uniqueName('acct');
    await db().exec(`create table ${t} (id int primary key, bal int); insert into ${t} values (1, 10);`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const bad = await changeIn(tl, `update ${t} set bal = 0`);
    await changeIn(tl, `update ${t} set bal = 5`, 'clerk');
    const plan = JSON.parse(JSON.stringify(await tl.revert.plan({ transactionId: bad })));
    expect(plan.conflicts.map((c: { kind: string }) => c.kind)).toEqual(['changed_since']);
    plan.conflicts = [];
    plan.summary.conflicts.changed_since = 0;
    const error = await failure(as(admin, () => tl.revert.apply(plan, { force: true })));
    expect(isThreadlineError(error, 'REVERT_CONFLICT')).toBe(true);
    expect(await snapshot(db(), t, 'id')).toEqual(['{"id": 1, "bal": 5}']);
  });

  it('force overwrites only the changes the plan listed: a write after the plan, or a second apply, is refused', async () => {
    const t = uniqueName('f');
    await db().exec(`create table ${t} (id int primary key, v int); insert into ${t} values (1, 1), (2, 2);`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const bad = await changeIn(tl, `update ${t} set v = v * 100`);
    const plan = await tl.revert.plan({ transactionId: bad });
    expect(plan.conflicts).toEqual([]);
    await changeIn(tl, `update ${t} set v = 555 where id = 2`, 'colleague');
    const error = await failure(as(admin, () => tl.revert.apply(plan, { force: true })));
    expect(isThreadlineError(error, 'REVERT_CONFLICT')).toBe(true);
    expect(await snapshot(db(), t, 'id')).toEqual(['{"v": 100, "id": 1}', '{"v": 555, "id": 2}']);
    // Planned again, the colleague's write is listed: force overwrites it, once.
    const again = await tl.revert.plan({ transactionId: bad });
    expect(again.conflicts.map((c) => c.kind)).toEqual(['changed_since']);
    await as(admin, () => tl.revert.apply(again, { force: true }));
    expect(await snapshot(db(), t, 'id')).toEqual(['{"v": 1, "id": 1}', '{"v": 2, "id": 2}']);
    for (const copy of [again, JSON.parse(JSON.stringify(again))]) {
      const twice = await failure(as(admin, () => tl.revert.apply(copy, { force: true })));
      expect(isThreadlineError(twice, 'REVERT_CONFLICT')).toBe(true);
    }
    // A write after a plan that lists a conflict is not overwritten by force either.
    const bad2 = await changeIn(tl, `update ${t} set v = 9 where id = 1`);
    await changeIn(tl, `update ${t} set v = 10 where id = 1`, 'colleague');
    const listed = await tl.revert.plan({ transactionId: bad2 });
    expect(listed.conflicts.map((c) => c.kind)).toEqual(['changed_since']);
    await changeIn(tl, `update ${t} set v = 11 where id = 1`, 'colleague');
    const late = await failure(as(admin, () => tl.revert.apply(listed, { force: true })));
    expect(isThreadlineError(late, 'REVERT_CONFLICT')).toBe(true);
    expect(await snapshot(db(), t, 'id')).toEqual(['{"v": 11, "id": 1}', '{"v": 2, "id": 2}']);
  });

  it('a column dropped since the change: a not_stored conflict naming it; a dropped column the revert does not write is not compared', async () => {
    const a = uniqueName('dc1');
    const b = uniqueName('dc2');
    const c = uniqueName('dc3');
    await db().exec(`create table ${a} (id int primary key, v int, w int); insert into ${a} values (1, 1, 1);
                     create table ${b} (id int primary key, v int, w int); insert into ${b} values (1, 1, 1);
                     create table ${c} (id int primary key, v int, extra text); insert into ${c} values (1, 1, 'e');`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [a, b, c] });
    const once = await changeIn(tl, `update ${a} set v = 2, w = 2`);
    const twice = await as(ActorRef.user('script'), () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${b} set v = 2, w = 2`);
        await tx.query(`update ${b} set v = 3`);
      }),
    );
    const other = await changeIn(tl, `update ${c} set v = 2`);
    await db().exec(
      `alter table ${a} drop column v; alter table ${b} drop column v; alter table ${c} drop column extra;`,
    );
    for (const [table, id] of [
      [a, once],
      [b, twice.auditTransactionId!],
    ] as const) {
      const plan = await tl.revert.plan({ transactionId: id });
      expect(plan.conflicts).toEqual([
        {
          table,
          pk: { id: 1 },
          kind: 'not_stored',
          columns: ['v'],
          detail: `${table} {"id": 1}: cannot restore column "v" (was dropped from the table since, so its old value cannot be written back)`,
        },
      ]);
      const error = await failure(as(admin, () => tl.revert.apply(plan)));
      expect(isThreadlineError(error, 'REVERT_REFUSED')).toBe(true);
    }
    const plan = await tl.revert.plan({ transactionId: other });
    expect(plan.conflicts).toEqual([]);
    await as(admin, () => tl.revert.apply(plan));
    expect(await snapshot(db(), c, 'id')).toEqual(['{"v": 1, "id": 1}']);
  });

  it("capture stores values the same whatever the writer's session settings: history and revert are exact", async () => {
    const t = uniqueName('vals');
    await db().exec(`create table ${t} (id int primary key, iv interval, x float8, r real, b bytea, m money, v int);
      insert into ${t} values (1, '-1 day -02:03:04', 0.1::float8 + 0.2::float8, 1.1::real / 3, '\\x00ff', 1234.5, 0),
                              (2, '-1 year -2 mons +3 days', 1e-320, 3.4e38, 'ab', -0.01, 0);`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const before = await snapshot(db(), t, 'id');
    const settings = `set local intervalstyle = 'sql_standard'; set local extra_float_digits = 0; set local bytea_output = 'escape'`;
    const update = await as(ActorRef.user('u'), () =>
      tl.transaction(async (tx) => {
        for (const s of settings.split(';')) await tx.query(s);
        await tx.query(`update ${t} set v = 1`);
      }),
    );
    const rows = await db().sql<{ d: string }>(
      `select data_after::text as d from threadline.audit_changes where transaction_id = $1 order by table_pk::text`,
      [update.auditTransactionId],
    );
    expect(rows.map((r) => r.d)).toEqual(before.map((r) => r.replace('"v": 0', '"v": 1')));
    await as(admin, async () =>
      tl.revert.apply(await tl.revert.plan({ transactionId: update.auditTransactionId! })),
    );
    expect(await snapshot(db(), t, 'id')).toEqual(before);
    const del = await as(ActorRef.user('u'), () =>
      tl.transaction(async (tx) => {
        for (const s of settings.split(';')) await tx.query(s);
        await tx.query(`delete from ${t}`);
      }),
    );
    await as(admin, async () =>
      tl.revert.apply(await tl.revert.plan({ transactionId: del.auditTransactionId! })),
    );
    expect(await snapshot(db(), t, 'id')).toEqual(before);
  });

  it('keys swapped in a cycle: a key_cycle conflict instead of a plan that cannot apply', async () => {
    const t = uniqueName('swap');
    await db().exec(
      `create table ${t} (id int primary key, v text); insert into ${t} values (1, 'a'), (2, 'b');`,
    );
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const swap = await as(ActorRef.user('u'), () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${t} set id = 3 where id = 1`);
        await tx.query(`update ${t} set id = 1 where id = 2`);
        await tx.query(`update ${t} set id = 2 where id = 3`);
      }),
    );
    const plan = await tl.revert.plan({ transactionId: swap.auditTransactionId! });
    expect(plan.conflicts.map((c) => [c.kind, c.pk])).toEqual([
      ['key_cycle', { id: 2 }],
      ['key_cycle', { id: 1 }],
    ]);
    expect(plan.summary.conflicts.key_cycle).toBe(2);
    const error = await failure(as(admin, () => tl.revert.apply(plan)));
    expect(isThreadlineError(error, 'REVERT_REFUSED')).toBe(true);
  });
});

/** Wait until some session waits for a row lock (no timing: polls pg_stat_activity). */
async function someoneWaits(pool: pg.Pool): Promise<void> {
  for (;;) {
    const { rows } = await pool.query(
      `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
    );
    if (rows[0].n > 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeEachDb(
  "revert: a row's changes in the order they happened (a statement that waited for the row lock)",
  (db) => {
    async function setup() {
      const t = uniqueName('o');
      await db().exec(
        `create table ${t} (id int primary key, v int); insert into ${t} values (1, 0), (2, 0);`,
      );
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      const pool = db().db as pg.Pool;
      // A holds row 1; L's statement starts (captured_at), waits for row 1, then updates row 2
      // after `first` changed and committed it.
      const holder = await pool.connect();
      await holder.query('begin');
      await holder.query(`select * from ${t} where id = 1 for update`);
      return { t, tl, pool, holder };
    }

    it('a later change that waited is a changed_since conflict (force is then needed to overwrite it)', async () => {
      const { t, tl, pool, holder } = await setup();
      const waiting = changeIn(tl, `update ${t} set v = v + 1 where id in (1, 2)`, 'colleague');
      await someoneWaits(pool);
      const bad = await changeIn(tl, `update ${t} set v = 100 where id = 2`);
      await holder.query('commit');
      holder.release();
      await waiting;
      const plan = await tl.revert.plan({ transactionId: bad });
      expect(plan.conflicts.map((c) => [c.kind, c.pk, c.actor])).toEqual([
        ['changed_since', { id: 2 }, { type: 'user', id: 'colleague' }],
      ]);
    });

    it('a correlation whose changes of one row were captured out of captured_at order reverts exactly', async () => {
      const { t, tl, pool, holder } = await setup();
      const req = (sql: string) =>
        runWithAuditContext({ actor: ActorRef.user('u'), correlationId: `req-${t}` }, () =>
          tl.transaction((tx) => tx.query(sql)),
        );
      const waiting = req(`update ${t} set v = v + 1 where id in (1, 2)`);
      await someoneWaits(pool);
      await req(`update ${t} set v = 100 where id = 2`);
      await holder.query('commit');
      holder.release();
      await waiting;
      expect(await snapshot(db(), t, 'id')).toEqual(['{"v": 1, "id": 1}', '{"v": 101, "id": 2}']);
      const plan = await tl.revert.plan({ correlationId: `req-${t}` });
      expect(plan.conflicts).toEqual([]);
      await as(admin, () => tl.revert.apply(plan));
      expect(await snapshot(db(), t, 'id')).toEqual(['{"v": 0, "id": 1}', '{"v": 0, "id": 2}']);
    });
  },
  ['postgres'],
);
