import { describeEachDb } from '@threadline/test-utils';
import pg from 'pg';
import { expect, it } from 'vitest';
import { ActorRef, createThreadline, isThreadlineError, runWithAuditContext } from '../src/index.js';
import { changesFor, countRows, installed, uniqueName } from './helpers.js';

describeEachDb('transactions, queries and actions', (db) => {
  it('tl.query attributes an autocommit write made inside a context, and leaves others alone', async () => {
    const t = uniqueName('auto');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await runWithAuditContext({ actor: ActorRef.user(5) }, () => tl.query(`insert into ${t} values (1)`));
    await tl.query(`insert into ${t} values (2)`);
    const rows = await db().sql<{ actor_ref: unknown }>(
      `select t.actor_ref from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id where c.table_name = $1 order by c.id`,
      [t],
    );
    expect(rows.map((r) => r.actor_ref)).toEqual([{ type: 'user', id: '5' }, null]);
  });

  it('uses the transaction inside tl.transaction: tl.query joins it, nested calls are savepoints bound once', async () => {
    const t = uniqueName('nested');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const out = await runWithAuditContext({ actor: ActorRef.user(1) }, () =>
      tl.transaction(async () => {
        await tl.query(`insert into ${t} values (1)`);
        const inner = await runWithAuditContext({ actor: ActorRef.user(2) }, () =>
          tl.transaction(async (tx) => {
            await tx.query(`insert into ${t} values (2)`);
            return 'inner';
          }),
        );
        expect(inner.result).toBe('inner');
        return inner.auditTransactionId;
      }),
    );
    expect(out.result).toBe(out.auditTransactionId);
    const rows = await db().sql<{ tx: string; actor_ref: unknown }>(
      `select c.transaction_id::text as tx, t.actor_ref from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id where c.table_name = $1`,
      [t],
    );
    // Bound once at the start of the real transaction: both rows carry the outer actor.
    expect(rows).toEqual([
      { tx: out.auditTransactionId, actor_ref: { type: 'user', id: '1' } },
      { tx: out.auditTransactionId, actor_ref: { type: 'user', id: '1' } },
    ]);
  });

  it('tl.query runs a script of several statements as one attributed transaction, in and outside a transaction (PGlite too: found by the capture hunt)', async () => {
    const t = uniqueName('script');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const bound = await runWithAuditContext({ actor: ActorRef.user('s') }, () =>
      tl.query<{ n: number }>(`insert into ${t} values (1); insert into ${t} values (2); select 7 as n`),
    );
    expect(bound.rows).toEqual([{ n: 7 }]);
    await tl.query(`insert into ${t} values (3); insert into ${t} values (4)`);
    // Atomic like any implicit transaction: the second statement fails, the first is not kept.
    await expect(tl.query(`insert into ${t} values (5); insert into ${t} values (1)`)).rejects.toThrow();
    await runWithAuditContext({ actor: ActorRef.user('in') }, () =>
      tl.transaction(async (tx) => {
        await tl.query(`insert into ${t} values (6); insert into ${t} values (7)`);
        await tx.query(`insert into ${t} values (8); insert into ${t} values (9)`);
      }),
    );
    const rows = await db().sql<{ id: number; tx: string; actor: string | null }>(
      `select (c.table_pk->>'id')::int as id, c.transaction_id::text as tx, t.actor_ref->>'id' as actor
         from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_name = $1 order by 1`,
      [t],
    );
    expect(rows.map((r) => [r.id, r.actor])).toEqual([
      [1, 's'],
      [2, 's'],
      [3, null],
      [4, null],
      [6, 'in'],
      [7, 'in'],
      [8, 'in'],
      [9, 'in'],
    ]);
    expect(rows[0]!.tx).toBe(rows[1]!.tx);
    expect(new Set(rows.slice(4).map((r) => r.tx)).size).toBe(1);
  });

  it('returns a null audit transaction id when nothing was captured', async () => {
    const tl = await installed(db());
    const out = await tl.transaction(
      async (tx) => (await tx.query<{ one: number }>('select 1 as one')).rows[0]!.one,
    );
    expect(out).toEqual({ result: 1, auditTransactionId: null });
  });

  it('recordAction links to the current audit transaction and defaults ids from the context', async () => {
    const t = uniqueName('acts');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const ctx = { actor: ActorRef.admin('a1'), correlationId: 'corr-9', requestId: 'req-9' };
    const out = await runWithAuditContext(ctx, () =>
      tl.transaction(async (tx) => {
        await tx.query(`insert into ${t} values (1)`);
        return tl.recordAction('post.published', {
          verb: 'publish',
          category: 'content',
          reason: 'scheduled',
          comment: 'ok',
        });
      }),
    );
    expect(out.result.auditTransactionId).toBe(out.auditTransactionId);
    const [action] = await db().sql(
      'select name, actor_ref, status, verb, category, reason, comment, correlation_id, request_id, job_id, transaction_id::text as tx from threadline.audit_actions where id = $1',
      [out.result.id],
    );
    expect(action).toEqual({
      name: 'post.published',
      actor_ref: { type: 'admin', id: 'a1' },
      status: 'ok',
      verb: 'publish',
      category: 'content',
      reason: 'scheduled',
      comment: 'ok',
      correlation_id: 'corr-9',
      request_id: 'req-9',
      job_id: null,
      tx: out.auditTransactionId,
    });
    const [tx] = await db().sql<{ action_id: string }>(
      'select action_id::text from threadline.audit_transactions where id = $1',
      [out.auditTransactionId],
    );
    expect(tx!.action_id).toBe(out.result.id);
    // An action recorded before any captured write still gets (and shares) the audit transaction.
    const early = await runWithAuditContext(ctx, () =>
      tl.transaction(async (tx) => {
        const a = await tl.recordAction('bulk.import');
        await tx.query(`insert into ${t} values (2)`);
        return a;
      }),
    );
    expect(early.result.auditTransactionId).toBe(early.auditTransactionId);
    // Outside a transaction: stored, not linked.
    const loose = await tl.recordAction('login', { actor: ActorRef.user('u'), status: 'error' });
    expect(loose.auditTransactionId).toBeNull();
  });

  it('recordAction outside any audit context and without an actor is refused', async () => {
    const tl = await installed(db());
    await expect(tl.recordAction('x')).rejects.toMatchObject({
      code: 'INVALID_ACTOR',
      message:
        "recordAction: no actor and no audit context; pass { actor: ActorRef.user(id) } or call it inside runWithAuditContext (or an adapter's middleware)",
    });
  });

  it('recordAction inside an audit context with no actor records the anonymous actor', async () => {
    const tl = await installed(db());
    const ctx = { requestId: 'req-anon-1', correlationId: 'corr-anon-1', source: 'test' };
    const out = await runWithAuditContext(ctx, () =>
      tl.transaction(() => tl.recordAction('password.reset_requested')),
    );
    const rows = await db().sql<{ actor_ref: unknown; request_id: string; correlation_id: string }>(
      'select actor_ref, request_id, correlation_id from threadline.audit_actions where id = $1',
      [out.result.id],
    );
    expect(rows).toEqual([
      { actor_ref: { type: 'anonymous' }, request_id: 'req-anon-1', correlation_id: 'corr-anon-1' },
    ]);
  });

  it('recordAction validates its fields', async () => {
    const tl = await installed(db());
    await expect(tl.recordAction('', { actor: ActorRef.user(1) })).rejects.toMatchObject({
      code: 'INVALID_CONTEXT',
    });
    await expect(
      tl.recordAction('x', { actor: ActorRef.user(1), status: 'maybe' as never }),
    ).rejects.toMatchObject({ code: 'INVALID_CONTEXT' });
    await expect(
      tl.recordAction('x', { actor: ActorRef.user(1), correlationId: 'x'.repeat(300) }),
    ).rejects.toSatisfy(isThreadlineError);
    for (const ids of [{ requestId: 'a\u0007b' }, { jobId: ' ' }, { correlationId: 'ad\u200bmin' }]) {
      await expect(tl.recordAction('x', { actor: ActorRef.user(1), ...ids })).rejects.toMatchObject({
        code: 'INVALID_CONTEXT',
        message: expect.stringMatching(/no control, format or invisible character/),
      });
    }
  });

  const orphanChanges = (table: string) =>
    countRows(
      db(),
      'select 1 from threadline.audit_changes c where c.table_name = $1 and not exists (select 1 from threadline.audit_transactions t where t.id = c.transaction_id)',
      [table],
    );

  it('rolled-back savepoints leave no audit rows, released ones do', async () => {
    const t = uniqueName('sp');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await tl.transaction(async (tx) => {
      await tx.query('savepoint a');
      await tx.query(`insert into ${t} values (1)`);
      await tx.query('rollback to savepoint a');
      await tx.query(`insert into ${t} values (2)`);
      await tx.query('savepoint b');
      await tx.query(`insert into ${t} values (3)`);
      await tx.query('release savepoint b');
    });
    const rows = await changesFor(db(), 'public', t);
    expect(rows.map((r) => r.table_pk)).toEqual([{ id: 2 }, { id: 3 }]);
    expect(new Set(rows.map((r) => r.transaction_id)).size).toBe(1);
    // The first capture (and so the transaction row) happened inside the rolled-back savepoint:
    // the later changes must still have their transaction row.
    expect(await orphanChanges(t)).toBe(0);
    const out = await runWithAuditContext({ actor: ActorRef.user('sp') }, () =>
      tl.transaction(async () => {
        await expect(
          tl.transaction(async (tx) => {
            await tx.query(`insert into ${t} values (10)`);
            throw new Error('undo the first capture');
          }),
        ).rejects.toThrow('undo the first capture');
        await tl.query(`insert into ${t} values (11)`);
      }),
    );
    const after = await db().sql<{ id: number; tx: string; actor: string }>(
      `select (c.table_pk->>'id')::int as id, c.transaction_id::text as tx, t.actor_ref->>'id' as actor
         from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_name = $1 and (c.table_pk->>'id')::int >= 10`,
      [t],
    );
    expect(after).toEqual([{ id: 11, tx: out.auditTransactionId, actor: 'sp' }]);
    expect(await orphanChanges(t)).toBe(0);
    const empty = await countRows(
      db(),
      'select 1 from threadline.audit_transactions t where action_id is null and not exists (select 1 from threadline.audit_changes c where c.transaction_id = t.id)',
    );
    expect(empty).toBe(0);
  });
});

describeEachDb(
  'node-postgres Client',
  (db) => {
    it('works with a single pg.Client, serializing concurrent transactions', async () => {
      const t = uniqueName('client');
      await db().exec(`create table ${t} (id int primary key)`);
      await installed(db());
      const client = new pg.Client({ connectionString: db().server!.url });
      await client.connect();
      try {
        const tl = createThreadline({ db: client });
        await tl.installTriggers({ tables: [t] });
        await Promise.all(
          [1, 2, 3, 4].map((i) =>
            runWithAuditContext({ actor: ActorRef.user(i) }, () =>
              tl.transaction((tx) => tx.query(`insert into ${t} values ($1)`, [i])),
            ),
          ),
        );
        const rows = await db().sql<{ id: number; actor: string }>(
          `select (c.table_pk->>'id')::int as id, t.actor_ref->>'id' as actor from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id where c.table_name = $1 order by 1`,
          [t],
        );
        expect(rows).toEqual([1, 2, 3, 4].map((i) => ({ id: i, actor: String(i) })));
      } finally {
        await client.end();
      }
    });
  },
  ['postgres'],
);
