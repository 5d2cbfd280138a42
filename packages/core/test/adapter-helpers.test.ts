import { describe, expect, it } from 'vitest';
import {
  ActorRef,
  checkContextSource,
  getAuditContext,
  JOB_CONTEXT_KEY,
  jobAuditContext,
  jobContextData,
  readJobContextData,
  runWithAuditContext,
  runWithFreshAuditContext,
} from '../src/adapter.js';

describe('runWithFreshAuditContext', () => {
  it('ignores the outer context instead of merging into it', () => {
    const outer = { actor: ActorRef.user('outer'), requestId: 'req-outer', meta: { a: 1 } };
    const seen = runWithAuditContext(outer, () =>
      runWithFreshAuditContext({ actor: ActorRef.job('q'), jobId: '7', source: 'bullmq' }, () =>
        getAuditContext(),
      ),
    );
    expect(seen).toEqual({ actor: { type: 'job', id: 'q' }, jobId: '7', source: 'bullmq' });
  });

  it('validates like runWithAuditContext and drops undefined fields', () => {
    expect(() => runWithFreshAuditContext({ jobId: 'x'.repeat(300) }, () => 1)).toThrow(/jobId/);
    expect(runWithFreshAuditContext({ jobId: '1', causationId: undefined }, () => getAuditContext())).toEqual(
      {
        jobId: '1',
      },
    );
  });

  it('round-trips through job context data', () => {
    const stamp = runWithFreshAuditContext(
      { actor: ActorRef.user('u'), correlationId: 'c', jobId: 'parent' },
      () => jobContextData(),
    );
    expect(readJobContextData(JSON.parse(JSON.stringify(stamp)))).toEqual({
      actor: { type: 'user', id: 'u' },
      correlationId: 'c',
      causationId: 'parent',
    });
  });
});

describe('needsAttribution / runAttributedStatement', () => {
  it('attributes every statement it cannot prove read-only', async () => {
    const { needsAttribution, transactionControl } = await import('../src/adapter.js');
    for (const sql of [
      'INSERT INTO t VALUES (1)',
      '  update t set a = 1',
      '/* comment */ DELETE FROM t',
      '-- note\nmerge into t using s on true when matched then delete',
      'truncate t',
      'WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x',
      'SELECT 1',
      'select archive_post($1)',
      'call archive($1)',
      'do $$ begin delete from t; end $$',
      'explain analyze insert into t values (1)',
      'EXPLAIN (FORMAT JSON, ANALYZE) delete from t',
      'select 1; insert into t values (1)',
      'show x; insert into t values (1)',
      'table t',
      'values (f())',
      'create table t2 (id int)',
    ]) {
      expect(needsAttribution(sql), sql).toBe(true);
    }
    for (const sql of [
      'show transaction_isolation',
      'SET search_path TO public',
      '/* c */ reset all',
      'explain select * from t',
      'explain select 1;  -- done',
      'discard all',
      'listen chan',
      'BEGIN',
      'START TRANSACTION',
      'commit',
      'SAVEPOINT s1',
    ]) {
      expect(needsAttribution(sql), sql).toBe(false);
    }
    expect(
      [
        'BEGIN',
        'start transaction',
        'commit',
        'END',
        'rollback',
        'abort',
        'savepoint a',
        'release a',
        'rollback to a',
        'ROLLBACK TRANSACTION TO SAVEPOINT a',
        'select 1',
      ].map(transactionControl),
    ).toEqual([
      'begin',
      'begin',
      'end',
      'end',
      'end',
      'end',
      'savepoint',
      'savepoint',
      'savepoint',
      'savepoint',
      null,
    ]);
  });

  it('wraps a statement in BEGIN, binding, statement, COMMIT only when a context is active', async () => {
    const { runAttributedStatement } = await import('../src/adapter.js');
    const log: string[] = [];
    const connection = {};
    const run = async (sql: string) => void log.push(sql.startsWith('select set_config') ? 'bind' : sql);
    const sendOk = async () => {
      log.push('stmt');
      return 'ok';
    };
    const statement = (sql: string, send: () => Promise<string> = sendOk) => ({
      sql,
      connection,
      run,
      send,
    });
    expect(await runAttributedStatement(statement('insert into t values (1)'))).toBe('ok');
    expect(log).toEqual(['stmt']);
    log.length = 0;
    await runWithAuditContext({ actor: ActorRef.user('7') }, async () => {
      await runAttributedStatement(statement('show x'));
      expect(log).toEqual(['stmt']);
      log.length = 0;
      await runAttributedStatement(statement('select f()'));
      expect(log).toEqual(['BEGIN', 'bind', 'stmt', 'COMMIT']);
      log.length = 0;
      const failing = async () => {
        log.push('stmt');
        throw new Error('boom');
      };
      await expect(runAttributedStatement(statement('update t set a = 1', failing))).rejects.toThrow('boom');
      expect(log).toEqual(['BEGIN', 'bind', 'stmt', 'ROLLBACK']);
      log.length = 0;
      await expect(runAttributedStatement(statement('BEGIN'))).rejects.toMatchObject({
        code: 'TRANSACTION_CONTROL',
      });
      expect(log).toEqual([]);
      const foreign = { getTransactionStatus: () => 'T' };
      await expect(
        runAttributedStatement({ ...statement('insert into t values (1)'), connection: foreign }),
      ).rejects.toMatchObject({ code: 'FOREIGN_TRANSACTION' });
      await runAttributedStatement({ ...statement('show x'), connection: foreign });
      expect(log).toEqual(['stmt']);
    });
  });
});

describe('request context fast paths (adapter benchmark)', () => {
  it('requestAuditContext returns every field, actor included, and spreads into a valid context', async () => {
    const { requestAuditContext, resolveActor } = await import('../src/adapter.js');
    const headers: Record<string, string> = { 'x-request-id': ' req-1 ', 'x-correlation-id': 'corr-1' };
    const ctx = requestAuditContext({ header: (n) => headers[n], remoteAddress: '10.0.0.1', source: 'http' });
    expect(Object.keys(ctx)).toEqual(['requestId', 'correlationId', 'source', 'meta', 'actor']);
    expect(ctx).toEqual({
      requestId: 'req-1',
      correlationId: 'corr-1',
      source: 'http',
      meta: { remoteAddress: '10.0.0.1' },
    });
    const noAddress = requestAuditContext({ header: () => undefined, source: 'http' });
    expect(noAddress.meta).toBeUndefined();
    expect(noAddress.correlationId).toBe(noAddress.requestId);
    const actor = await resolveActor(() => ActorRef.user('9'), 'test');
    expect(runWithFreshAuditContext({ ...ctx, actor }, () => getAuditContext())).toEqual({
      actor: { type: 'user', id: '9' },
      requestId: 'req-1',
      correlationId: 'corr-1',
      source: 'http',
      meta: { remoteAddress: '10.0.0.1' },
    });
    expect(runWithFreshAuditContext(noAddress, () => Object.keys(getAuditContext()!).sort())).toEqual([
      'correlationId',
      'requestId',
      'source',
    ]);
  });

  it('resolveActor takes sync and async callbacks alike and still rejects bad results', async () => {
    const { resolveActor } = await import('../src/adapter.js');
    expect(await resolveActor(() => ActorRef.user('1'), 'w')).toEqual({ type: 'user', id: '1' });
    expect(await resolveActor(async () => ActorRef.admin('2'), 'w')).toEqual({ type: 'admin', id: '2' });
    expect(await resolveActor(() => undefined, 'w')).toBeUndefined();
    // biome-ignore lint/suspicious/noThenProperty: a non-Promise thenable is what this checks
    const thenable = { then: (ok: (v: unknown) => void) => ok(ActorRef.job('q')) };
    expect(await resolveActor(() => thenable as never, 'w')).toEqual({
      type: 'job',
      id: 'q',
    });
    await expect(resolveActor(() => ({ type: 'robot', id: '1' }) as never, 'w')).rejects.toMatchObject({
      code: 'CALLBACK_FAILED',
    });
    await expect(
      resolveActor(() => {
        throw new Error('lookup failed');
      }, 'w'),
    ).rejects.toMatchObject({ code: 'CALLBACK_FAILED' });
  });

  it('resolveActorNow answers a synchronous callback synchronously and an async one with a promise', async () => {
    const { resolveActorNow } = await import('../src/context/adapter-helpers.js');
    expect(resolveActorNow(() => ActorRef.user('1'), 'w')).toEqual({ type: 'user', id: '1' });
    expect(resolveActorNow(undefined, 'w')).toBeUndefined();
    expect(resolveActorNow(() => null, 'w')).toBeUndefined();
    const pending = resolveActorNow(async () => ActorRef.admin('2'), 'w');
    expect(pending).toBeInstanceOf(Promise);
    expect(await pending).toEqual({ type: 'admin', id: '2' });
    expect(() => resolveActorNow(() => ({ type: 'robot', id: '1' }) as never, 'w')).toThrow(
      expect.objectContaining({ code: 'CALLBACK_FAILED' }),
    );
    expect(() =>
      resolveActorNow(() => {
        throw new Error('lookup failed');
      }, 'w'),
    ).toThrow(/the actor callback threw \(lookup failed\)/);
    await expect(resolveActorNow(async () => Promise.reject(new Error('down')), 'w')).rejects.toMatchObject({
      code: 'CALLBACK_FAILED',
      message: expect.stringContaining('(down)'),
    });
    await expect(resolveActorNow(async () => 'user:1' as never, 'w')).rejects.toMatchObject({
      code: 'CALLBACK_FAILED',
    });
  });

  it('runRequestInAuditContext runs next synchronously for a synchronous actor callback, after it settles for an async one', async () => {
    const { runRequestInAuditContext, getAuditContext } = await import('../src/adapter.js');
    const headers: Record<string, string> = { 'x-request-id': 'req-9', 'x-correlation-id': 'corr-9' };
    const info = { header: (n: string) => headers[n], remoteAddress: '10.0.0.9', source: 'http' };
    const outer = { correlationId: 'outer', jobId: 'job-1' };

    const seen = runWithFreshAuditContext(outer, () =>
      runRequestInAuditContext(
        info,
        (id: string) => ActorRef.user(id),
        'w',
        '7',
        () => getAuditContext(),
      ),
    );
    expect(seen).toStrictEqual({
      requestId: 'req-9',
      correlationId: 'corr-9',
      source: 'http',
      meta: { remoteAddress: '10.0.0.9' },
      actor: { type: 'user', id: '7' },
    }); // fresh: nothing of the outer context (no jobId)

    const later = runRequestInAuditContext(
      info,
      async () => ActorRef.admin('2'),
      'w',
      null,
      () => getAuditContext(),
    );
    expect(later).toBeInstanceOf(Promise);
    expect((await later)?.actor).toEqual({ type: 'admin', id: '2' });

    const noActor = runRequestInAuditContext(info, undefined, 'w', null, () => getAuditContext());
    expect(noActor).not.toBeInstanceOf(Promise);
    expect((noActor as ReturnType<typeof getAuditContext>)?.actor).toBeUndefined();

    let ran = false;
    const run = () => {
      ran = true;
    };
    expect(() =>
      runRequestInAuditContext(
        info,
        () => {
          throw new Error('lookup failed');
        },
        'w',
        null,
        run,
      ),
    ).toThrow(expect.objectContaining({ code: 'CALLBACK_FAILED' }));
    await expect(
      runRequestInAuditContext(info, async () => ({ type: 'robot', id: '1' }) as never, 'w', null, run),
    ).rejects.toMatchObject({ code: 'CALLBACK_FAILED' });
    expect(ran).toBe(false);
  });

  it('copies meta exactly as the JSON round trip does', () => {
    const cases: Record<string, unknown>[] = [
      { remoteAddress: '127.0.0.1', port: 443, secure: true, note: null, gone: undefined, zero: -0 },
      { nested: { a: [1, 2] }, when: new Date(0), nan: Number.NaN, inf: Number.POSITIVE_INFINITY },
      JSON.parse('{"__proto__": {"x": 1}, "y": 2}'),
      { toJSON: () => ({ replaced: true }) },
      Object.assign(Object.create(null), { a: 'b' }),
      { 'é\n': 'ü\u0001' },
    ];
    for (const meta of cases) {
      const seen = runWithFreshAuditContext({ meta }, () => getAuditContext()!.meta);
      expect(seen).toStrictEqual(JSON.parse(JSON.stringify(meta)));
      expect(seen).not.toBe(meta);
      expect(Object.getPrototypeOf(seen)).toBe(Object.prototype);
    }
  });

  it('refuses meta text PostgreSQL cannot store (NUL, a lone surrogate) instead of letting capture drop it', () => {
    for (const meta of [{ 'é\n': 'ü\u0000' }, { note: '\ud800' }, { nested: { 'k\u0000': 1 } }]) {
      expect(() => runWithFreshAuditContext({ meta }, () => 1)).toThrow(
        /NUL characters or lone UTF-16 surrogates/,
      );
    }
  });

  it('still enforces the meta size limit near the boundary', () => {
    // Measured as the database does: jsonb text, {"note": "…"} (a space after the colon).
    const fits = { note: 'x'.repeat(8192 - 12) }; // exactly 8192 bytes of jsonb text
    expect(runWithFreshAuditContext({ meta: fits }, () => getAuditContext()!.meta)).toEqual(fits);
    expect(() => runWithFreshAuditContext({ meta: { note: 'x'.repeat(8192 - 11) } }, () => 1)).toThrow(
      /meta is larger than 8192 bytes/,
    );
    expect(() => runWithFreshAuditContext({ meta: { note: 'é'.repeat(4100) } }, () => 1)).toThrow(
      /meta is larger than 8192 bytes/,
    );
  });

  it('cleans ids by UTF-8 byte length, short or long', async () => {
    const { cleanContextId } = await import('../src/adapter.js');
    expect(cleanContextId('a'.repeat(256))).toBe('a'.repeat(256));
    expect(cleanContextId('a'.repeat(257))).toBeUndefined();
    expect(cleanContextId('é'.repeat(128))).toBe('é'.repeat(128)); // 256 bytes
    expect(cleanContextId('é'.repeat(129))).toBeUndefined(); // 258 bytes
    expect(cleanContextId('€'.repeat(85))).toBe('€'.repeat(85)); // 255 bytes, no byte count needed
    expect(cleanContextId('€'.repeat(86))).toBeUndefined(); // 258 bytes
    expect(cleanContextId(' id  ')).toBe('id');
    // Only U+0020 is trimmed, as the database does: a tab is a control character, refused.
    expect(cleanContextId(' id\t')).toBeUndefined();
    expect(cleanContextId('a\u0001b')).toBeUndefined();
  });
});

describe('checkContextSource', () => {
  it('returns the source as it will be recorded and refuses a bad one naming the caller', () => {
    expect(checkContextSource(' billing-api ', 'x()')).toBe('billing-api');
    for (const bad of ['', '   ', 'a\u0000b', 'x'.repeat(257), {}]) {
      expect(() => checkContextSource(bad, '@threadline/x auditContext()')).toThrow(
        expect.objectContaining({
          code: 'INVALID_CONTEXT',
          message: expect.stringContaining('@threadline/x auditContext()'),
        }),
      );
    }
  });
});

describe('jobAuditContext', () => {
  const job = { queue: 'mail', jobId: '42', attempt: 3, enqueuedAt: 1700000000000, source: 'bullmq' };
  it('falls back to the queue actor and a correlation id that is the same on every attempt', () => {
    const first = jobAuditContext({ ...job, attempt: 1 });
    expect(first).toEqual({
      actor: ActorRef.job('mail'),
      correlationId: 'bullmq:mail:42:1700000000000',
      jobId: '42',
      causationId: undefined,
      source: 'bullmq',
      meta: { queue: 'mail', attempt: 1 },
    });
    expect(jobAuditContext(job).correlationId).toBe(first.correlationId);
    expect(jobAuditContext(job).meta).toEqual({ queue: 'mail', attempt: 3 });
  });
  it('continues the enqueuing context, lets an explicit actor win and ignores malformed stamps', () => {
    const stamp = runWithAuditContext(
      { actor: ActorRef.user('ann'), correlationId: 'c-1', requestId: 'r-1' },
      () => jobContextData(),
    );
    const data = { id: 1, [JOB_CONTEXT_KEY]: stamp };
    expect(jobAuditContext({ ...job, data })).toMatchObject({
      actor: ActorRef.user('ann'),
      correlationId: 'c-1',
      causationId: 'r-1',
    });
    expect(jobAuditContext({ ...job, data, actor: ActorRef.system('cron') }).actor).toEqual(
      ActorRef.system('cron'),
    );
    const junk = jobAuditContext({
      ...job,
      data: { [JOB_CONTEXT_KEY]: { actor: 7, correlationId: 'a\u0000' } },
    });
    expect(junk.actor).toEqual(ActorRef.job('mail'));
    expect(junk.correlationId).toBe('bullmq:mail:42:1700000000000');
  });
});
