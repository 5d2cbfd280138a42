import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, isThreadlineError, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';
import { auditTransactionCount, snapshot } from './revert-helpers.js';

const admin = ActorRef.admin('ops-1');

describeEachDb('revert: conflicts and refusals', (db) => {
  it('a write between plan and apply makes apply fail cleanly, changing nothing; force overwrites it', async () => {
    const t = uniqueName('price');
    await db().exec(`create table ${t} (sku text primary key, cents int)`);
    await db().exec(`insert into ${t} values ('a', 100), ('b', 200)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('script') }, () =>
      tl.transaction((tx) => tx.query(`update ${t} set cents = 0`)),
    );
    const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(plan.conflicts).toEqual([]);
    // Another session changes a row after the plan was made.
    await runWithAuditContext({ actor: ActorRef.user('clerk') }, () =>
      tl.query(`update ${t} set cents = 5 where sku = 'b'`),
    );
    const state = await snapshot(db(), t, 'sku');
    const txCount = await auditTransactionCount(db());
    const error = await runWithAuditContext({ actor: admin }, () => tl.revert.apply(plan)).catch(
      (e: unknown) => e,
    );
    expect(isThreadlineError(error, 'REVERT_CONFLICT')).toBe(true);
    expect((error as Error).message).toBe(
      `revert.apply: 1 row(s) no longer match the plan, so nothing was changed: ${t} {"sku": "b"} changed since the plan was made. Plan again (and apply with force to overwrite rows changed since)`,
    );
    expect(await snapshot(db(), t, 'sku')).toEqual(state);
    expect(await auditTransactionCount(db())).toBe(txCount);
    // Planning again names who changed it and when.
    const again = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(again.conflicts).toHaveLength(1);
    const [conflict] = again.conflicts;
    expect(conflict).toMatchObject({
      table: `${t}`,
      pk: { sku: 'b' },
      kind: 'changed_since',
      actor: { type: 'user', id: 'clerk' },
    });
    expect(conflict!.detail).toMatch(
      new RegExp(
        `^${t} \\{"sku": "b"\\}: it was updated after the reverted change, by user:clerk at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(change \\d+, audit transaction \\d+\\); revert that first, or apply with force to overwrite it$`,
      ),
    );
    const refused = await runWithAuditContext({ actor: admin }, () => tl.revert.apply(again)).catch(
      (e: unknown) => e,
    );
    expect(isThreadlineError(refused, 'REVERT_CONFLICT')).toBe(true);
    await runWithAuditContext({ actor: admin }, () => tl.revert.apply(again, { force: true }));
    expect(await snapshot(db(), t, 'sku')).toEqual([
      '{"sku": "a", "cents": 100}',
      '{"sku": "b", "cents": 200}',
    ]);
  });

  it('refuses a masked column, naming it, and force does not override', async () => {
    const t = uniqueName('acct');
    await db().exec(`create table ${t} (id int primary key, email text, ssn text, note text)`);
    await db().exec(`insert into ${t} values (1, 'a@x', '111', 'n')`);
    const tl = await installed(db(), { [t]: { mask: ['ssn'] } });
    await tl.installTriggers({ tables: [t] });
    const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user(1) }, () =>
      tl.transaction((tx) => tx.query(`update ${t} set ssn = '222', note = 'm' where id = 1`)),
    );
    const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(plan.conflicts).toEqual([
      {
        table: `${t}`,
        pk: { id: 1 },
        kind: 'not_stored',
        columns: ['ssn'],
        detail: `${t} {"id": 1}: cannot restore column "ssn" (is masked (mask), so only the placeholder was stored)`,
      },
    ]);
    const error = await runWithAuditContext({ actor: admin }, () =>
      tl.revert.apply(plan, { force: true }),
    ).catch((e: unknown) => e);
    expect(isThreadlineError(error, 'REVERT_REFUSED')).toBe(true);
    expect((error as Error).message).toContain('column "ssn"');
    expect(await snapshot(db(), t, 'id')).toEqual(['{"id": 1, "ssn": "222", "note": "m", "email": "a@x"}']);
    // An update that leaves the masked column alone reverts fine.
    const other = await runWithAuditContext({ actor: ActorRef.user(1) }, () =>
      tl.transaction((tx) => tx.query(`update ${t} set email = 'b@x' where id = 1`)),
    );
    const ok = await tl.revert.plan({ transactionId: other.auditTransactionId! });
    expect(ok.conflicts).toEqual([]);
    await runWithAuditContext({ actor: admin }, () => tl.revert.apply(ok));
    expect(await snapshot(db(), t, 'id')).toEqual(['{"id": 1, "ssn": "222", "note": "m", "email": "a@x"}']);
  });

  it('refuses to re-insert a deleted row with an excluded column, or without a delete snapshot', async () => {
    const a = uniqueName('secret');
    const b = uniqueName('nosnap');
    await db().exec(`create table ${a} (id int primary key, token text, label text);
      create table ${b} (id int primary key, v text);
      insert into ${a} values (1, 'tok', 'l'); insert into ${b} values (1, 'v');`);
    const tl = await installed(db(), { [a]: { exclude: ['token'] }, [b]: { deleteSnapshot: false } });
    await tl.installTriggers({ tables: [a, b] });
    const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user(1) }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`delete from ${a}`);
        await tx.query(`delete from ${b}`);
      }),
    );
    const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(plan.conflicts.map((c) => [c.kind, c.detail])).toEqual([
      [
        'not_stored',
        `${a} {"id": 1}: cannot restore column "token" (is excluded from capture (exclude), so its old value was never stored)`,
      ],
      [
        'not_stored',
        `${b} {"id": 1}: the deleted row cannot be put back: was not stored because the table is captured with deleteSnapshot: false`,
      ],
    ]);
  });

  it('refuses changedFrom: false updates and TRUNCATE', async () => {
    const t = uniqueName('nofrom');
    await db().exec(`create table ${t} (id int primary key, v text); insert into ${t} values (1, 'a')`);
    const tl = await installed(db(), { [t]: { changedFrom: false } });
    await tl.installTriggers({ tables: [t] });
    const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user(1) }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${t} set v = 'b'`);
        await tx.query(`truncate ${t}`);
      }),
    );
    const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(plan.conflicts.map((c) => c.detail)).toEqual([
      expect.stringMatching(new RegExp(`^${t}: TRUNCATE \\(change \\d+\\) cannot be reverted`)),
      `${t} {"id": 1}: cannot restore column "v" (was not stored because the table is captured with changedFrom: false)`,
    ]);
  });

  it('reports a foreign-key cycle instead of guessing an order', async () => {
    const a = uniqueName('cyca');
    const b = uniqueName('cycb');
    await db().exec(`create table ${a} (id int primary key, b_id int);
      create table ${b} (id int primary key, a_id int references ${a}(id));
      alter table ${a} add foreign key (b_id) references ${b}(id);`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [a, b] });
    const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user(1) }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`insert into ${a} values (1, null)`);
        await tx.query(`insert into ${b} values (1, 1)`);
      }),
    );
    const plan = await tl.revert.plan({ transactionId: auditTransactionId! });
    expect(plan.conflicts.map((c) => [c.kind, c.table]).sort()).toEqual([
      ['fk_cycle', `${a}`],
      ['fk_cycle', `${b}`],
    ]);
    const error = await runWithAuditContext({ actor: admin }, () =>
      tl.revert.apply(plan, { force: true }),
    ).catch((e: unknown) => e);
    expect(isThreadlineError(error, 'REVERT_REFUSED')).toBe(true);
  });
});
