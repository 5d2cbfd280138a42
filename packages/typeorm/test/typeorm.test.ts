import { ActorRef, runWithAuditContext } from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachThreadline, threadlineSession } from '../src/index.js';
import { openTypeorm, type TypeormSetup, VERSIONS } from './setup.js';

const as = <T>(id: string, fn: () => Promise<T>) =>
  runWithAuditContext({ actor: ActorRef.user(id), correlationId: `corr-${id}` }, fn);

describe.runIf(postgresEnabled()).each(VERSIONS)('%s', (_name, orm) => {
  let s: TypeormSetup;
  beforeAll(async () => {
    s = await openTypeorm(orm);
  });
  afterAll(() => s?.close());

  const actors = async (from: number, to: number) =>
    (await s.db.audit(s.table)).filter((r) => r.id >= from && r.id < to).map((r) => [r.id, r.op, r.actor]);
  const repo = () => s.ds.getRepository(s.Item);

  it('repository.save opens its own transaction and binds right after START TRANSACTION', async () => {
    const sql = await s.statements(() => as('save', () => repo().save({ id: 1, note: 'a' })));
    // save first reads (outside any transaction), then opens its own transaction for the write.
    const start = sql.indexOf('START TRANSACTION');
    expect(sql.slice(start, start + 3)).toEqual([
      'START TRANSACTION',
      'BIND',
      expect.stringMatching(/^INSERT/),
    ]);
    expect(sql.filter((x) => x === 'BIND')).toHaveLength(1);
    expect(await actors(1, 2)).toEqual([[1, 'insert', 'save']]);
  });

  it('binds after SET TRANSACTION ISOLATION LEVEL, for every isolation level', async () => {
    for (const [i, level] of (['READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE'] as const).entries()) {
      let seen: unknown;
      const sql = await s.statements(() =>
        as(`iso${i}`, () =>
          s.ds.transaction(level, async (m) => {
            seen = (await m.query('show transaction_isolation'))[0].transaction_isolation;
            await m.getRepository(s.Item).insert({ id: 10 + i });
          }),
        ),
      );
      expect(seen).toBe(level.toLowerCase());
      expect(sql.slice(0, 3)).toEqual([
        'START TRANSACTION',
        `SET TRANSACTION ISOLATION LEVEL ${level}`,
        'BIND',
      ]);
    }
    expect(await actors(10, 13)).toEqual([
      [10, 'insert', 'iso0'],
      [11, 'insert', 'iso1'],
      [12, 'insert', 'iso2'],
    ]);
  });

  it('binds once per real transaction: nested transactions are savepoints and do not bind again', async () => {
    const sql = await s.statements(() =>
      as('nest', () =>
        s.ds.manager.transaction(async (m) => {
          await m.insert(s.Item, { id: 20 });
          await m.transaction(async (inner) => {
            await inner.insert(s.Item, { id: 21 });
            await inner.transaction((deepest) => deepest.insert(s.Item, { id: 22 }));
          });
        }),
      ),
    );
    expect(sql.filter((x) => x === 'BIND')).toHaveLength(1);
    expect(sql.filter((x) => x.startsWith('SAVEPOINT'))).toHaveLength(2);
    expect(sql.indexOf('BIND')).toBe(sql.indexOf('START TRANSACTION') + 1);
    expect(await actors(20, 23)).toEqual([
      [20, 'insert', 'nest'],
      [21, 'insert', 'nest'],
      [22, 'insert', 'nest'],
    ]);
  });

  it('attributes QueryBuilder, repository.insert/update/delete and dataSource.query outside a transaction', async () => {
    const insert = await s.statements(() =>
      as('qb', () => s.ds.createQueryBuilder().insert().into(s.Item).values({ id: 30 }).execute()),
    );
    // The binding and the write go out in one pipelined round trip, one implicit transaction:
    // TypeORM logs only the write.
    expect(insert).toEqual([expect.stringMatching(/^INSERT INTO/)]);
    await as('repo', async () => {
      await repo().insert({ id: 31 });
      await repo().update({ id: 31 }, { note: 'u' });
      await repo().delete({ id: 31 });
    });
    await as('raw', () => s.ds.query(`update ${s.table} set note = $1 where id = $2`, ['r', 30]));
    expect(await actors(30, 32)).toEqual([
      [30, 'insert', 'qb'],
      [31, 'insert', 'repo'],
      [31, 'update', 'repo'],
      [31, 'delete', 'repo'],
      [30, 'update', 'raw'],
    ]);
  });

  it('leaves reads alone, and wraps nothing outside a context', async () => {
    const reads = await s.statements(() => as('reader', () => repo().find({ where: { id: 30 } })));
    expect(reads).toHaveLength(1);
    expect(reads[0]).toMatch(/^SELECT/);
    const writes = await s.statements(async () => {
      await repo().insert({ id: 40 });
      await s.ds.transaction((m) => m.insert(s.Item, { id: 41 }));
    });
    expect(writes).not.toContain('BIND');
    expect(writes).not.toContain('BEGIN');
    expect(await actors(40, 42)).toEqual([
      [40, 'insert', null],
      [41, 'insert', null],
    ]);
  });

  it('a failed autocommit write rolls back and the connection stays usable', async () => {
    await expect(as('dup', () => repo().insert({ id: 30 }))).rejects.toThrow(/duplicate key/);
    for (let i = 0; i < 3; i++) await as('after', () => repo().insert({ id: 50 + i }));
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

  it('binds a transaction the application opens with BEGIN on its own QueryRunner; refuses BEGIN through dataSource.query', async () => {
    const runner = s.ds.createQueryRunner();
    const sql = await s.statements(() =>
      as('rawtx', async () => {
        await runner.query('BEGIN');
        await runner.query(`insert into ${s.table} (id) values (55)`);
        await runner.query('ROLLBACK');
        await runner.query('BEGIN');
        await runner.query(`insert into ${s.table} (id) values (56)`);
        await runner.query('COMMIT');
      }),
    );
    await runner.release();
    expect(sql).toEqual([
      'BEGIN',
      'BIND',
      expect.stringMatching(/^insert/),
      'ROLLBACK',
      'BEGIN',
      'BIND',
      expect.stringMatching(/^insert/),
      'COMMIT',
    ]);
    expect(await actors(55, 57)).toEqual([[56, 'insert', 'rawtx']]);
    await expect(as('rawtx', () => s.ds.query('BEGIN'))).rejects.toMatchObject({
      code: 'TRANSACTION_CONTROL',
    });
  });

  it('tl.recordAction and tl.query inside dataSource.transaction join the ORM transaction', async () => {
    const linked = await as('act', () =>
      s.ds.transaction(async (m) => {
        await m.insert(s.Item, { id: 60 });
        await s.db.tl.query(`insert into ${s.table} (id) values ($1)`, [61]);
        return s.db.tl.recordAction('item.created', { reason: 'test' });
      }),
    );
    const rows = (await s.db.audit(s.table)).filter((r) => r.id === 60 || r.id === 61);
    expect(rows.map((r) => r.actor)).toEqual(['act', 'act']);
    expect(new Set(rows.map((r) => r.transactionId)).size).toBe(1);
    expect(linked.auditTransactionId).toBe(rows[0]!.transactionId);
    const { rows: action } = await s.db.pool.query(
      'select a.name, a.correlation_id from threadline.audit_transactions t join threadline.audit_actions a on a.id = t.action_id where t.id = $1',
      [linked.auditTransactionId],
    );
    expect(action).toEqual([{ name: 'item.created', correlation_id: 'corr-act' }]);
  });

  it("a TypeORM write in the transaction waits for an open nested tl.transaction: a failing one's ROLLBACK TO never undoes it", async () => {
    const [nested, write] = await as('turns', () =>
      s.ds.transaction((m) => {
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
          inSavepoint.then(() => m.insert(s.Item, { id: 81 })),
        ]);
      }),
    );
    expect([nested.status, write.status]).toEqual(['rejected', 'fulfilled']);
    const { rows } = await s.db.pool.query(`select id from ${s.table} where id in (80, 81)`);
    expect(rows).toEqual([{ id: 81 }]);
  });

  it('a manual queryRunner transaction binds, and threadlineSession links an action to it', async () => {
    const runner = s.ds.createQueryRunner();
    const linked = await as('manual', async () => {
      await runner.startTransaction();
      await runner.manager.insert(s.Item, { id: 70 });
      const action = await s.db.tl.recordAction('item.manual', { session: threadlineSession(runner) });
      await runner.commitTransaction();
      return action;
    });
    await runner.release();
    const rows = (await s.db.audit(s.table)).filter((r) => r.id === 70);
    expect(rows).toMatchObject([{ actor: 'manual' }]);
    expect(linked.auditTransactionId).toBe(rows[0]!.transactionId);
  });

  it('rejects missing options and is idempotent for the same Threadline', () => {
    expect(() => attachThreadline(s.ds, {} as never)).toThrow(/createThreadline/);
    const mysql = { options: { type: 'mysql' } } as never;
    expect(() => attachThreadline(mysql, { threadline: s.db.tl })).toThrow(/type: 'postgres'/);
    expect(attachThreadline(s.ds, { threadline: s.db.tl })).toBe(s.ds);
    expect(() => threadlineSession(s.ds.manager)).toThrow(/no query runner/);
  });
});
