import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, type RevertPlan, runWithAuditContext, type Threadline } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { snapshot } from './revert-helpers.js';

const admin = ActorRef.admin('ops-1');
const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** `prefix` padded with `fill` to exactly 63 UTF-8 bytes (PostgreSQL's longest identifier). */
function name63(prefix: string, fill = 'x'): string {
  let out = prefix;
  while (Buffer.byteLength(out + fill) <= 63) out += fill;
  expect(Buffer.byteLength(out)).toBe(63);
  return out;
}

/** The plan of each step's row alone (`{ table, pk, to }`, collapsed in JavaScript), for comparison. */
async function rowPlans(tl: Threadline, table: string, keys: Record<string, unknown>[], to: Date) {
  return Promise.all(keys.map((pk) => tl.revert.plan({ table, pk: pk as never, to })));
}

const view = (plan: RevertPlan) => ({
  steps: plan.steps.map((s) => ({
    op: s.op,
    pk: s.pk,
    set: s.set,
    expect: s.expect,
    table: s.table,
    data: s.data,
    sql: s.sql,
    params: s.params,
  })),
  conflicts: plan.conflicts.map((c) => ({ kind: c.kind, pk: c.pk, detail: c.detail, columns: c.columns })),
});

describeEachDb('revert: set-wise plan (rows with one change computed in SQL)', (db) => {
  it('plans every row as the row-by-row planner does: hostile 63-byte names, text keys with commas, jsonb, masked, excluded and generated columns', async () => {
    const table = name63(`Ünï "t", ${uniqueName('s')} `);
    const keyCol = name63('Kéy, "part" ', 'ü');
    const longCol = name63('lóng "col"; --', 'z');
    const t = `public.${q(table)}`;
    await db().exec(`create table ${t} (${q(keyCol)} text, n int, "Vål""ue" numeric(30,10), doc jsonb, big bigint,
        secret text, hidden text, gen int generated always as (n * 2) stored, ${q(longCol)} text,
        primary key (${q(keyCol)}, n));
      insert into ${t} (${q(keyCol)}, n, "Vål""ue", doc, big, secret, hidden, ${q(longCol)})
        select 'a,b "' || (g % 3), g, g * 1.5, jsonb_build_object('n', 12345678901234567890123, 's', 'x,' || g, 'a', jsonb_build_array(g, null)),
               9007199254740993 + g, 's' || g, 'h' || g, 'l' || g from generate_series(1, 30) g;`);
    const tl = await installed(db(), { [t]: { mask: ['secret'], exclude: ['hidden'] } });
    await tl.installTriggers({ tables: [t] });
    await db().exec('select pg_sleep(0.01)');
    const [{ at }] = (await db().sql<{ at: Date }>('select clock_timestamp() as at')) as [{ at: Date }];
    await db().exec('select pg_sleep(0.01)');
    const key = (k: string, n: number) => ({ [keyCol]: k, n });
    const bad = await runWithAuditContext({ actor: ActorRef.user('job') }, () =>
      tl.transaction(async (tx) => {
        // one change per row: updates (one touching the masked column), a key change, deletes, inserts
        await tx.query(
          `update ${t} set "Vål""ue" = 0, doc = doc || '{"s": "changed, \\"q\\""}', big = -big, ${q(longCol)} = null where n between 1 and 12`,
        );
        await tx.query(`update ${t} set secret = 'leaked' where n = 13`);
        await tx.query(`update ${t} set ${q(keyCol)} = 'moved, away' where n = 14`);
        await tx.query(`delete from ${t} where n in (15, 16)`);
        await tx.query(
          `insert into ${t} (${q(keyCol)}, n, doc) values ('new, row', 100, '{"deep": {"n": 98765432109876543210}}')`,
        );
        // and one row changed twice (collapsed in JavaScript, merged into the set-wise steps)
        await tx.query(`update ${t} set big = 1 where n = 17`);
        await tx.query(`update ${t} set big = 2, "Vål""ue" = 7 where n = 17`);
      }),
    );
    const plan = await tl.revert.plan({ transactionId: bad.auditTransactionId! });
    expect(plan.steps).toHaveLength(18);
    expect(plan.summary.changes).toBe(19);
    const keys = [
      ...Array.from({ length: 13 }, (_, i) => key(`a,b "${(i + 1) % 3}`, i + 1)),
      key(`a,b "${14 % 3}`, 14),
      key(`a,b "${15 % 3}`, 15),
      key(`a,b "${16 % 3}`, 16),
      key('new, row', 100),
      key(`a,b "${17 % 3}`, 17),
    ];
    const single = await rowPlans(tl, t, keys, at);
    const byRow = (p: RevertPlan) => JSON.stringify(p.steps[0]!.pk);
    const fromRows = new Map(single.map((p) => [byRow(p), view(p)]));
    expect(single.every((p) => p.steps.length === 1)).toBe(true);
    for (const step of plan.steps) {
      const alone = fromRows.get(JSON.stringify(step.pk))!;
      // The same statement with the same bound text, key order included.
      expect(view({ ...plan, steps: [step] }).steps[0]).toStrictEqual(alone.steps[0]);
      expect(Object.keys(step.set ?? {})).toEqual(Object.keys(alone.steps[0]!.set ?? {}));
      expect(view(plan).conflicts.filter((c) => JSON.stringify(c.pk) === JSON.stringify(step.pk))).toEqual(
        alone.conflicts,
      );
    }
    // The masked column and the deleted rows (masked and excluded columns) are refused, by name.
    expect(plan.conflicts.map((c) => [c.kind, c.pk.n, c.columns])).toEqual([
      ['not_stored', 16, ['hidden', 'secret']],
      ['not_stored', 15, ['hidden', 'secret']],
      ['not_stored', 13, ['secret']],
    ]);
    expect(plan.steps.find((s) => s.pk.n === 1)!.set).toEqual({
      'Vål"ue': 1.5,
      doc: { n: '12345678901234567890123', s: 'x,1', a: [1, null] },
      big: '9007199254740994',
      [longCol]: 'l1',
    });
  });

  it('restores exactly what a bulk statement on a hostile table changed, set-wise', async () => {
    const table = name63(`Ünï "r", ${uniqueName('s')} `);
    const keyCol = name63('Kéy, "part" ', 'ü');
    const t = `public.${q(table)}`;
    await db().exec(`create table ${t} (${q(keyCol)} text primary key, v numeric(30,10), doc jsonb, big bigint, ts timestamptz,
        gen text generated always as (${q(keyCol)} || '!') stored);
      insert into ${t} (${q(keyCol)}, v, doc, big, ts)
        select 'k,' || g || ',"' || g, g / 7.0, jsonb_build_object('big', 123456789012345678901234567890, 'arr', jsonb_build_array('a,b', g)),
               9223372036854775807 - g, '2026-01-02 03:04:05.123456+00'::timestamptz + g * interval '1 microsecond'
          from generate_series(1, 1200) g;`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const before = await snapshot(db(), t, q(keyCol));
    const bad = await runWithAuditContext({ actor: ActorRef.user('job') }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${t} set v = -v, doc = '{"x": "y"}', big = 0, ts = now()`);
        await tx.query(
          `update ${t} set ${q(keyCol)} = ${q(keyCol)} || ' (moved)' where big = 0 and v < -100`,
        );
        await tx.query(`delete from ${t} where v > -10`);
        await tx.query(
          `insert into ${t} (${q(keyCol)}, v) select 'new,' || g, g from generate_series(1, 50) g`,
        );
      }),
    );
    const plan = await tl.revert.plan({ transactionId: bad.auditTransactionId! });
    expect(plan.conflicts).toEqual([]);
    expect(plan.summary.ops).toEqual({ insert: 69, update: 1131, delete: 50 });
    const result = await tl.revert.apply(plan, { actor: admin, batchSize: 500 });
    expect(result.applied).toBe(1250);
    expect(await snapshot(db(), t, q(keyCol))).toEqual(before);
  }, 120_000);
});
