import { describe, expect, it } from 'vitest';
import {
  ActorRef,
  getAuditContext,
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

describe('isWriteStatement / runAttributedStatement', () => {
  it('detects statements that may write, past leading comments', async () => {
    const { isWriteStatement } = await import('../src/adapter.js');
    for (const sql of [
      'INSERT INTO t VALUES (1)',
      '  update t set a = 1',
      '/* comment */ DELETE FROM t',
      '-- note\nmerge into t using s on true when matched then delete',
      'truncate t',
      'WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x',
    ]) {
      expect(isWriteStatement(sql), sql).toBe(true);
    }
    for (const sql of [
      'SELECT 1',
      'with x as (select 1) select * from x',
      'BEGIN',
      'START TRANSACTION',
      'set x = 1',
    ]) {
      expect(isWriteStatement(sql), sql).toBe(false);
    }
  });

  it('wraps a write in BEGIN, binding, statement, COMMIT only when a context is active', async () => {
    const { runAttributedStatement } = await import('../src/adapter.js');
    const log: string[] = [];
    const run = async (sql: string) => void log.push(sql.startsWith('select set_config') ? 'bind' : sql);
    const statement = async () => {
      log.push('stmt');
      return 'ok';
    };
    expect(await runAttributedStatement('insert into t values (1)', run, statement)).toBe('ok');
    expect(log).toEqual(['stmt']);
    log.length = 0;
    await runWithAuditContext({ actor: ActorRef.user('7') }, async () => {
      await runAttributedStatement('select 1', run, statement);
      expect(log).toEqual(['stmt']);
      log.length = 0;
      await runAttributedStatement('insert into t values (1)', run, statement);
      expect(log).toEqual(['BEGIN', 'bind', 'stmt', 'COMMIT']);
      log.length = 0;
      const failing = async () => {
        log.push('stmt');
        throw new Error('boom');
      };
      await expect(runAttributedStatement('update t set a = 1', run, failing)).rejects.toThrow('boom');
      expect(log).toEqual(['BEGIN', 'bind', 'stmt', 'ROLLBACK']);
      log.length = 0;
      const inTransaction = { getTransactionStatus: () => 'T' };
      await runAttributedStatement('insert into t values (1)', run, statement, inTransaction);
      expect(log).toEqual(['stmt']);
    });
  });
});
