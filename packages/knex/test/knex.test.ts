import { ActorRef, runWithAuditContext } from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachThreadline, threadlineSession } from '../src/index.js';
import { type KnexSetup, openKnex, VERSIONS } from './setup.js';

// A knex builder runs when awaited, so it is awaited inside the context.
const as = <T>(id: string, fn: () => PromiseLike<T>): Promise<T> =>
  runWithAuditContext({ actor: ActorRef.user(id), correlationId: `corr-${id}` }, async () => await fn());

describe.runIf(postgresEnabled()).each(VERSIONS)('%s', (_name, factory) => {
  let s: KnexSetup;
  let knex: Knex;
  beforeAll(async () => {
    s = await openKnex(factory, 1);
    knex = s.knex;
  });
  afterAll(() => s?.close());

  const actors = async (from: number, to: number) =>
    (await s.db.audit(s.table)).filter((r) => r.id >= from && r.id < to).map((r) => [r.id, r.op, r.actor]);

  it('binds right after BEGIN, once per real transaction: nested transactions are savepoints', async () => {
    const sql = await s.statements(() =>
      as('nest', () =>
        knex.transaction(async (trx) => {
          await trx(s.table).insert({ id: 1 });
          await trx.transaction(async (inner) => {
            await inner(s.table).insert({ id: 2 });
            await inner.transaction((deepest) => deepest(s.table).insert({ id: 3 }));
          });
        }),
      ),
    );
    expect(sql.slice(0, 2)).toEqual(['BEGIN;', 'BIND']);
    expect(sql.filter((x) => x === 'BIND')).toHaveLength(1);
    expect(sql.filter((x) => x.startsWith('SAVEPOINT'))).toHaveLength(2);
    expect(await actors(1, 4)).toEqual([
      [1, 'insert', 'nest'],
      [2, 'insert', 'nest'],
      [3, 'insert', 'nest'],
    ]);
  });

  it('binds after BEGIN TRANSACTION ISOLATION LEVEL, for every isolation level', async () => {
    const levels = ['read committed', 'repeatable read', 'serializable'] as const;
    for (const [i, isolationLevel] of levels.entries()) {
      let seen: unknown;
      const sql = await s.statements(() =>
        as(`iso${i}`, () =>
          knex.transaction(
            async (trx) => {
              seen = (await trx.raw('show transaction_isolation')).rows[0].transaction_isolation;
              await trx(s.table).insert({ id: 10 + i });
            },
            { isolationLevel },
          ),
        ),
      );
      expect(seen).toBe(isolationLevel);
      // knex 2.0-2.4 sends `BEGIN ISOLATION LEVEL ...`, later versions `BEGIN TRANSACTION ISOLATION LEVEL ...`.
      expect(sql.slice(0, 2)).toEqual([
        expect.stringMatching(`^BEGIN (TRANSACTION )?ISOLATION LEVEL ${isolationLevel};$`),
        'BIND',
      ]);
    }
    expect(await actors(10, 13)).toEqual([
      [10, 'insert', 'iso0'],
      [11, 'insert', 'iso1'],
      [12, 'insert', 'iso2'],
    ]);
  });

  it('binds transactions from transactionProvider() and knex.transaction() without a callback', async () => {
    const linked = await as('provider', async () => {
      const provider = knex.transactionProvider();
      const trx = await provider();
      await trx(s.table).insert({ id: 20 });
      expect(await provider()).toBe(trx);
      const action = await s.db.tl.recordAction('item.provided', { session: threadlineSession(trx) });
      await trx.commit();
      return action;
    });
    await as('manual', async () => {
      const trx = await knex.transaction();
      await trx(s.table).insert({ id: 21 });
      await trx.commit();
    });
    expect(await actors(20, 22)).toEqual([
      [20, 'insert', 'provider'],
      [21, 'insert', 'manual'],
    ]);
    const rows = (await s.db.audit(s.table)).filter((r) => r.id === 20);
    expect(linked.auditTransactionId).toBe(rows[0]!.transactionId);
  });

  it('attributes query-builder and raw writes outside a transaction', async () => {
    const insert = await s.statements(() => as('qb', () => knex(s.table).insert({ id: 30 })));
    // The binding and the write go out in one pipelined round trip below knex, one implicit
    // transaction: knex logs only the write.
    expect(insert).toEqual([expect.stringMatching(/^insert into/)]);
    await as('qb', async () => {
      await knex(s.table).where({ id: 30 }).update({ note: 'u' });
      await knex(s.table).insert({ id: 31 }).onConflict('id').merge();
      await knex(s.table).where({ id: 31 }).del();
      await knex.raw(`update ${s.table} set note = ? where id = ?`, ['r', 30]);
    });
    expect(await actors(30, 32)).toEqual([
      [30, 'insert', 'qb'],
      [30, 'update', 'qb'],
      [31, 'insert', 'qb'],
      [31, 'delete', 'qb'],
      [30, 'update', 'qb'],
    ]);
  });

  it('leaves reads alone, and wraps nothing outside a context', async () => {
    expect(await s.statements(() => as('reader', () => knex(s.table).where({ id: 30 })))).toEqual([
      expect.stringMatching(/^select/),
    ]);
    const writes = await s.statements(async () => {
      await knex(s.table).insert({ id: 40 });
      await knex.transaction((trx) => trx(s.table).insert({ id: 41 }));
    });
    expect(writes).not.toContain('BIND');
    expect(writes).not.toContain('BEGIN');
    expect(await actors(40, 42)).toEqual([
      [40, 'insert', null],
      [41, 'insert', null],
    ]);
  });

  it('a failed autocommit write rolls back and the pooled connection stays usable', async () => {
    await expect(as('dup', () => knex(s.table).insert({ id: 30 }))).rejects.toThrow(/duplicate key/);
    for (let i = 0; i < 3; i++) await as('after', () => knex(s.table).insert({ id: 50 + i }));
    const { rows } = await s.db.pool.query(
      `select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`,
    );
    expect(rows[0].n).toBe(0);
    expect(await actors(50, 53)).toEqual([
      [50, 'insert', 'after'],
      [51, 'insert', 'after'],
      [52, 'insert', 'after'],
    ]);
  });

  it('refuses BEGIN/COMMIT as plain statements: a pooled connection would go back mid-transaction', async () => {
    const sql = await s.statements(async () => {
      await expect(as('rawtx', () => knex.raw('BEGIN'))).rejects.toMatchObject({
        code: 'TRANSACTION_CONTROL',
      });
      await expect(knex.raw('commit')).rejects.toMatchObject({ code: 'TRANSACTION_CONTROL' });
    });
    expect(sql).toEqual([]);
    await as('rawtx', () => knex(s.table).insert({ id: 55 }));
    expect(await actors(55, 56)).toEqual([[55, 'insert', 'rawtx']]);
  });

  it('tl.recordAction and tl.query inside knex.transaction(cb) join that transaction', async () => {
    const linked = await as('act', () =>
      knex.transaction(async (trx) => {
        await trx(s.table).insert({ id: 60 });
        await s.db.tl.query(`insert into ${s.table} (id) values ($1)`, [61]);
        return trx.transaction(() => s.db.tl.recordAction('item.created', { reason: 'why? because' }));
      }),
    );
    const rows = (await s.db.audit(s.table)).filter((r) => r.id === 60 || r.id === 61);
    expect(rows.map((r) => r.actor)).toEqual(['act', 'act']);
    expect(new Set(rows.map((r) => r.transactionId)).size).toBe(1);
    expect(linked.auditTransactionId).toBe(rows[0]!.transactionId);
    const { rows: action } = await s.db.pool.query(
      'select a.name, a.reason, a.correlation_id from threadline.audit_transactions t join threadline.audit_actions a on a.id = t.action_id where t.id = $1',
      [linked.auditTransactionId],
    );
    expect(action).toEqual([{ name: 'item.created', reason: 'why? because', correlation_id: 'corr-act' }]);
  });

  it("a knex write in the transaction waits for an open nested tl.transaction: a failing one's ROLLBACK TO never undoes it", async () => {
    const [nested, write] = await as('turns', () =>
      knex.transaction((trx) => {
        let opened: () => void = () => undefined;
        const inSavepoint = new Promise<void>((resolve) => {
          opened = resolve;
        });
        return Promise.allSettled([
          s.db.tl.transaction(async (tx) => {
            await tx.query(`insert into ${s.table} (id) values (80)`);
            opened();
            for (let i = 0; i < 5; i++) await tx.query('select 1');
            throw new Error('nested fails');
          }),
          // Sent from the transaction's callback while the nested savepoint is open.
          inSavepoint.then(() => trx(s.table).insert({ id: 81 })),
        ]);
      }),
    );
    expect([nested.status, write.status]).toEqual(['rejected', 'fulfilled']);
    const { rows } = await s.db.pool.query(`select id from ${s.table} where id in (80, 81)`);
    expect(rows).toEqual([{ id: 81 }]);
  });

  it('withUserParams() clones share the attachment', async () => {
    await as('clone', () => knex.withUserParams({ tenant: 1 })(s.table).insert({ id: 70 }));
    expect(await actors(70, 71)).toEqual([[70, 'insert', 'clone']]);
  });

  it('rejects missing options and non-PostgreSQL clients, and is idempotent for the same Threadline', () => {
    expect(() => attachThreadline(knex, {} as never)).toThrow(/createThreadline/);
    const mysql = { client: { dialect: 'mysql' } } as never;
    expect(() => attachThreadline(mysql, { threadline: s.db.tl })).toThrow(/client: 'pg'/);
    expect(attachThreadline(knex, { threadline: s.db.tl })).toBe(knex);
  });
});
