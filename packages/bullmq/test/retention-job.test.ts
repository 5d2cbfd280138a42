import { randomBytes } from 'node:crypto';
import { ActorRef, createThreadline, isThreadlineError, runWithAuditContext } from '@threadline/core';
import { createTestDatabase, postgresEnabled, redisEnabled, type TestDatabase } from '@threadline/test-utils';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retentionJob } from '../src/index.js';
import { connection, PREFIX } from './harness.js';

describe.runIf(postgresEnabled() && redisEnabled())('retentionJob (BullMQ job scheduler)', () => {
  let db: TestDatabase;
  let queue: Queue;
  beforeAll(async () => {
    db = await createTestDatabase('tl_bullmq_ret');
    queue = new Queue(`tl-ret-${randomBytes(4).toString('hex')}`, { connection, prefix: PREFIX });
  });
  afterAll(async () => {
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    await db?.drop();
  });

  it('refuses a Threadline without an enabled policy and an interval under a minute', async () => {
    const plain = createThreadline({ db: db.pool });
    const error = await retentionJob(queue, plain, { every: '1h' }).catch((e) => e);
    expect(isThreadlineError(error, 'RETENTION_DISABLED')).toBe(true);
    const tl = createThreadline({ db: db.pool, retention: { enabled: true, keepDays: 30 } });
    const fast = await retentionJob(queue, tl, { every: 1000 }).catch((e) => e);
    expect(isThreadlineError(fast, 'CONFIG_INVALID')).toBe(true);
    expect((fast as Error).message).toContain('from one minute to 31 days');
  });

  it('purges on schedule as the queue job actor, once however many processes schedule it', async () => {
    const tl = createThreadline({ db: db.pool, retention: { enabled: true, keepDays: 30, sleepMs: 0 } });
    await tl.install();
    await db.pool.query('create table ret_job (id int primary key)');
    await tl.installTriggers({ tables: ['ret_job'] });
    await runWithAuditContext({ actor: ActorRef.user('w') }, () =>
      tl.transaction((tx) => tx.query('insert into ret_job values (1), (2)')),
    );
    await db.pool.query(`update threadline.audit_changes set captured_at = captured_at - interval '90 days'`);
    await db.pool.query(
      `update threadline.audit_transactions set occurred_at = occurred_at - interval '90 days'`,
    );
    const [a, b] = await Promise.all([
      retentionJob(queue, tl, { every: '1h' }),
      retentionJob(queue, tl, { every: '1h' }),
    ]);
    try {
      const deadline = Date.now() + 30_000;
      let runs = await tl.retention.runs();
      while (!runs.some((r) => r.status === 'completed') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        runs = await tl.retention.runs();
      }
      const done = runs.filter((r) => r.status === 'completed');
      expect(done.map((r) => [r.deletedChanges, r.deletedTransactions, r.actor])).toEqual([
        [2, 1, { type: 'job', id: queue.name }],
      ]);
      expect(await queue.getJobSchedulersCount()).toBe(1);
    } finally {
      await a.close();
      await b.close();
    }
    expect(await queue.getJobSchedulersCount()).toBe(0);
  });

  it('refuses unknown keys and a dryRun that is not true or false, before scheduling anything', async () => {
    const tl = createThreadline({ db: db.pool, retention: { enabled: true, keepDays: 30 } });
    const unknown = await retentionJob(queue, tl, { every: '1h', dryrun: true } as never).catch((e) => e);
    expect(isThreadlineError(unknown, 'QUERY_INVALID')).toBe(true);
    expect((unknown as Error).message).toMatch(
      /retentionJob options: unknown key "dryrun"; known keys are every, dryRun,/,
    );
    const typo = await retentionJob(queue, tl, { every: '1h', dryRun: 'true' } as never).catch((e) => e);
    expect((typo as Error).message).toMatch(/retentionJob: dryRun must be true or false, got "true"/);
    expect(await queue.getJobSchedulersCount()).toBe(0);
  });

  it('gives every purge the options it was scheduled with: dryRun: true schedules dry runs', async () => {
    const tl = createThreadline({ db: db.pool, retention: { enabled: true, keepDays: 30, sleepMs: 0 } });
    await tl.install();
    await db.pool.query('create table ret_job_dry (id int primary key)');
    await tl.installTriggers({ tables: ['ret_job_dry'] });
    await runWithAuditContext({ actor: ActorRef.user('w') }, () =>
      tl.transaction((tx) => tx.query('insert into ret_job_dry values (1), (2), (3)')),
    );
    await db.pool.query(
      `update threadline.audit_changes set captured_at = captured_at - interval '90 days' where table_name = 'ret_job_dry'`,
    );
    const count = async () =>
      (
        await db.pool.query(
          `select count(*)::int as n from threadline.audit_changes where table_name = 'ret_job_dry'`,
        )
      ).rows[0].n;
    const before = (await tl.retention.runs()).length;
    const cutoff = new Date(Date.now() - 60 * 86_400_000).toISOString();
    const job = await retentionJob(queue, tl, { every: '1h', dryRun: true, cutoff });
    try {
      const deadline = Date.now() + 30_000;
      let runs = await tl.retention.runs();
      while (runs.length === before || runs[0]!.status === 'running') {
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
        runs = await tl.retention.runs();
      }
      expect(runs[0]).toMatchObject({ status: 'completed', dryRun: true, cutoff, deletedChanges: 3 });
    } finally {
      await job.close();
    }
    expect(await count()).toBe(3);
  });
});
