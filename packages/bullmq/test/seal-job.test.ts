import { randomBytes } from 'node:crypto';
import { ActorRef, createThreadline, isThreadlineError, runWithAuditContext } from '@threadline/core';
import { createTestDatabase, postgresEnabled, redisEnabled, type TestDatabase } from '@threadline/test-utils';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealJob } from '../src/index.js';
import { connection, PREFIX } from './harness.js';

describe.runIf(postgresEnabled() && redisEnabled())('sealJob (BullMQ job scheduler)', () => {
  let db: TestDatabase;
  let queue: Queue;
  beforeAll(async () => {
    db = await createTestDatabase('tl_bullmq_seal');
    queue = new Queue(`tl-seal-${randomBytes(4).toString('hex')}`, { connection, prefix: PREFIX });
  });
  afterAll(async () => {
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    await db?.drop();
  });

  it('refuses an interval under a minute', async () => {
    const tl = createThreadline({ db: db.pool });
    const fast = await sealJob(queue, tl, { every: 1000 }).catch((e) => e);
    expect(isThreadlineError(fast, 'CONFIG_INVALID')).toBe(true);
    expect((fast as Error).message).toContain('sealJob: every must be from one minute to 31 days');
  });

  it('seals on schedule, one schedule however many processes ask for it', async () => {
    const tl = createThreadline({ db: db.pool });
    await tl.install();
    await db.pool.query('create table seal_job (id int primary key)');
    await tl.installTriggers({ tables: ['seal_job'] });
    await runWithAuditContext({ actor: ActorRef.user('w') }, () =>
      tl.transaction((tx) => tx.query('insert into seal_job values (1), (2)')),
    );
    const [a, b] = await Promise.all([
      sealJob(queue, tl, { every: '1h' }),
      sealJob(queue, tl, { every: '1h' }),
    ]);
    try {
      const deadline = Date.now() + 30_000;
      let status = await tl.integrity.status();
      while (status.lastSeal === null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        status = await tl.integrity.status();
      }
      expect(status.lastSeal?.sealedThrough).toMatchObject({ audit_changes: expect.any(String) });
      expect(await queue.getJobSchedulersCount()).toBe(1);
      const verified = await tl.integrity.verify();
      expect(verified).toMatchObject({ ok: true, rowsChecked: 3 });
    } finally {
      await a.close();
      await b.close();
    }
    expect(await queue.getJobSchedulersCount()).toBe(0);
  });

  it('refuses unknown keys before scheduling anything, and gives every seal the seal options it was scheduled with', async () => {
    const tl = createThreadline({ db: db.pool });
    const unknown = await sealJob(queue, tl, { every: '1h', dryRun: true } as never).catch((e) => e);
    expect(isThreadlineError(unknown, 'QUERY_INVALID')).toBe(true);
    expect((unknown as Error).message).toMatch(
      /sealJob options: unknown key "dryRun"; known keys are every, chunkSize, waitMs, onLink/,
    );
    expect(await queue.getJobSchedulersCount()).toBe(0);
    // A chunkSize the seal refuses (below 100) reaches the seal: the job fails naming it.
    const job = await sealJob(queue, tl, { every: '1h', chunkSize: 5 });
    try {
      const failed = await new Promise<Error>((resolve) =>
        job.worker.on('failed', (_job, error) => resolve(error)),
      );
      expect(failed.message).toMatch(/chunkSize/);
    } finally {
      await job.close();
    }
  });
});
