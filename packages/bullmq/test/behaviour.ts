import { type ConformanceDb, openConformanceDb } from '@threadline/conformance';
import {
  ActorRef,
  getAuditContext,
  isThreadlineError,
  runWithAuditContext,
  type ThreadlineError,
} from '@threadline/core';
import { postgresEnabled, REDIS_URL, redisEnabled } from '@threadline/test-utils';
import type { Processor } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { auditJobData, withAuditContext } from '../src/index.js';
import { type BullmqModule, connection, PREFIX, startWorker, type TestWorker } from './harness.js';

interface Item {
  id: number;
  child?: number;
  who?: string;
}

/** Behaviour beyond the shared suite: stamping, chaining, flows, retries, stalls, the actor callback. */
export function describeBullmqAdapter(label: string, mq: BullmqModule): void {
  describe('auditJobData', () => {
    it('returns the data unchanged outside any context', () => {
      const data = { id: 1 };
      expect(auditJobData(data)).toBe(data);
      expect(runWithAuditContext({ source: 'cli' }, () => auditJobData(data))).toBe(data);
    });

    it('stamps actor, correlation id and causation id without mutating the input', () => {
      const data = { id: 1 };
      const ctx = { actor: ActorRef.user('7'), correlationId: 'corr', jobId: 'job-9', requestId: 'req-1' };
      expect(runWithAuditContext(ctx, () => auditJobData(data))).toEqual({
        id: 1,
        __threadline: { actor: { type: 'user', id: '7' }, correlationId: 'corr', causationId: 'job-9' },
      });
      expect(data).toEqual({ id: 1 });
    });

    it('refuses array data inside a context (it cannot carry a key)', () => {
      const error = runWithAuditContext({ actor: ActorRef.user('7') }, () => {
        try {
          auditJobData([1, 2]);
        } catch (e) {
          return e as ThreadlineError;
        }
      });
      expect(isThreadlineError(error) && error.code).toBe('INVALID_CONTEXT');
    });

    it('types the actor callback with bullmq Job<Data>', () => {
      const processor: Processor<Item, number> = withAuditContext(
        async (job) => {
          expectTypeOf(job.data).toEqualTypeOf<Item>();
          return job.data.id;
        },
        {
          actor: async (job) => {
            expectTypeOf(job.data).toEqualTypeOf<Item>();
            return job.data.who ? ActorRef.user(job.data.who) : undefined;
          },
        },
      );
      expect(typeof processor).toBe('function');
    });
  });

  describe.runIf(postgresEnabled() && redisEnabled())(`@threadline/bullmq on ${label}`, () => {
    let db: ConformanceDb;
    let table: string;
    const workers: { close(): Promise<unknown> }[] = [];
    beforeAll(async () => {
      db = await openConformanceDb(2);
      table = await db.table();
    });
    afterAll(async () => {
      for (const w of workers.reverse()) await w.close();
      await db?.close();
    });
    const start = async (
      ...args: Parameters<typeof startWorker<Item>> extends [unknown, ...infer R] ? R : never
    ) => {
      const w = await startWorker<Item>(mq, ...args);
      workers.push(w);
      return w;
    };
    const insert = (id: number) =>
      db.tl.transaction((tx) => tx.query(`insert into ${table} (id) values ($1)`, [id]));
    const rowsOf = async (...ids: number[]) => (await db.audit(table)).filter((r) => ids.includes(r.id));

    it('runs each job in a fresh context: enqueuing actor, correlation, job id, causation, source', async () => {
      // A worker started inside some context must not hand that context to its jobs.
      const w = await runWithAuditContext({ requestId: 'worker-boot', meta: { leaked: true } }, () =>
        start(async (job) => {
          await insert(job.data.id);
          return getAuditContext() as never;
        }),
      );
      const ctx = { actor: ActorRef.user('7'), correlationId: 'corr-a', requestId: 'req-a' };
      const job = await runWithAuditContext(ctx, () => w.queue.add('a', auditJobData({ id: 1 })));
      const seen = await job.waitUntilFinished(w.events);
      expect(seen).toEqual({
        actor: { type: 'user', id: '7' },
        correlationId: 'corr-a',
        jobId: job.id,
        causationId: 'req-a',
        source: 'bullmq',
        meta: { queue: w.queueName, attempt: 1 },
      });
      expect(await rowsOf(1)).toMatchObject([
        {
          actor: '7',
          correlationId: 'corr-a',
          jobId: job.id,
          causationId: 'req-a',
          requestId: null,
          source: 'bullmq',
        },
      ]);
    });

    it('chains a job enqueued by a job: causation = parent job id, actor and correlation carried', async () => {
      const w: TestWorker<Item> = await start(async (job) => {
        await insert(job.data.id);
        if (job.data.child)
          return (await w.queue.add('child', auditJobData({ id: job.data.child }))).id as never;
      });
      const finish = async (parentId: string) => {
        const parent = (await w.queue.getJob(parentId))!;
        const childId: string = await parent.waitUntilFinished(w.events);
        await (await w.queue.getJob(childId))!.waitUntilFinished(w.events);
        return childId;
      };
      const ctx = { actor: ActorRef.user('p'), correlationId: 'corr-chain', requestId: 'req-chain' };
      const parent = await runWithAuditContext(ctx, () =>
        w.queue.add('p', auditJobData({ id: 10, child: 11 })),
      );
      const childId = await finish(parent.id!);
      expect(await rowsOf(10, 11)).toMatchObject([
        { id: 10, actor: 'p', correlationId: 'corr-chain', causationId: 'req-chain', jobId: parent.id },
        { id: 11, actor: 'p', correlationId: 'corr-chain', causationId: parent.id, jobId: childId },
      ]);

      // A parent enqueued outside any context: its fallback actor and correlation id carry on.
      const orphan = await w.queue.add('p', auditJobData({ id: 12, child: 13 }));
      const orphanChild = await finish(orphan.id!);
      const [p, c] = await rowsOf(12, 13);
      expect(p).toMatchObject({ actorType: 'job', actor: w.queueName, causationId: null, jobId: orphan.id });
      expect(p!.correlationId).toContain(`${w.queueName}:${orphan.id}`);
      expect(c).toMatchObject({
        actorType: 'job',
        actor: w.queueName,
        correlationId: p!.correlationId,
        causationId: orphan.id,
        jobId: orphanChild,
      });
    });

    it('chains flows: every job of a FlowProducer tree added in a context carries it', async () => {
      const w = await start(async (job) => {
        await insert(job.data.id);
      });
      const flow = new mq.FlowProducer({ connection, prefix: PREFIX });
      workers.push(flow);
      const node = (id: number) => ({ name: `n${id}`, queueName: w.queueName, data: auditJobData({ id }) });
      const ctx = { actor: ActorRef.user('flow'), correlationId: 'corr-flow', requestId: 'req-flow' };
      const tree = await runWithAuditContext(ctx, () =>
        flow.add({ ...node(20), children: [node(21), { ...node(22), children: [node(23)] }] }),
      );
      await tree.job.waitUntilFinished(w.events);
      const rows = await rowsOf(20, 21, 22, 23);
      expect(rows).toHaveLength(4);
      for (const row of rows) {
        expect(row).toMatchObject({ actor: 'flow', correlationId: 'corr-flow', causationId: 'req-flow' });
      }
      const jobIds = [
        tree.job.id,
        tree.children![0]!.job.id,
        tree.children![1]!.job.id,
        tree.children![1]!.children![0]!.job.id,
      ];
      expect(rows.map((r) => [r.id, r.jobId])).toEqual(
        expect.arrayContaining([20, 21, 22, 23].map((id, i) => [id, jobIds[i]])),
      );
    });

    it('keeps the context on retry (attempts: 2, the first attempt commits a row, then throws)', async () => {
      const w = await start(async (job) => {
        await insert(job.data.id + job.attemptsMade);
        if (job.attemptsMade === 0) throw new Error('first attempt fails');
      });
      const ctx = { actor: ActorRef.user('retry'), correlationId: 'corr-retry', requestId: 'req-retry' };
      const job = await runWithAuditContext(ctx, () =>
        w.queue.add('r', auditJobData({ id: 30 }), { attempts: 2 }),
      );
      await job.waitUntilFinished(w.events);
      const expected = {
        actor: 'retry',
        correlationId: 'corr-retry',
        causationId: 'req-retry',
        jobId: job.id,
      };
      expect(await rowsOf(30, 31)).toMatchObject([
        { id: 30, ...expected, meta: { attempt: 1 } },
        { id: 31, ...expected, meta: { attempt: 2 } },
      ]);

      // Without any enqueuing context, both attempts still share one (derived) correlation id.
      const bare = await w.queue.add('r', auditJobData({ id: 32 }), { attempts: 2 });
      await bare.waitUntilFinished(w.events);
      const [a, b] = await rowsOf(32, 33);
      expect(a).toMatchObject({ actorType: 'job', actor: w.queueName, jobId: bare.id });
      expect(b).toMatchObject({
        actorType: 'job',
        actor: w.queueName,
        jobId: bare.id,
        correlationId: a!.correlationId,
      });
    });

    it('keeps the context when a stalled job is re-run by another worker', async () => {
      let started!: () => void;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      // A lock that cannot expire during the test (no renewal race on a busy machine); the crash
      // is simulated by removing the lock of the killed worker, so the second worker's stalled
      // check (every 300 ms, two passes) is what re-runs the job, not a timer racing the CPU.
      const lockOptions = { lockDuration: 60_000, stalledInterval: 300, maxStalledCount: 1 };
      const first = await start(
        async (job) => {
          await insert(job.data.id);
          started();
          await new Promise(() => undefined); // hangs: its worker is killed mid-job
        },
        {},
        lockOptions,
      );
      const ctx = { actor: ActorRef.user('stall'), correlationId: 'corr-stall', requestId: 'req-stall' };
      const job = await runWithAuditContext(ctx, () => first.queue.add('s', auditJobData({ id: 40 })));
      await running;
      await first.worker.close(true);
      const redis = new Redis(REDIS_URL);
      try {
        expect(await redis.del(`${PREFIX}:${first.queueName}:${job.id}:lock`)).toBe(1);
      } finally {
        redis.disconnect();
      }
      const second = new mq.Worker<Item>(
        first.queueName,
        withAuditContext(async (j) => {
          await insert(j.data.id + 1);
        }),
        { connection, prefix: PREFIX, ...lockOptions },
      );
      workers.push(second);
      await job.waitUntilFinished(first.events);
      const expected = {
        actor: 'stall',
        correlationId: 'corr-stall',
        causationId: 'req-stall',
        jobId: job.id,
      };
      expect(await rowsOf(40, 41)).toMatchObject([
        { id: 40, ...expected },
        { id: 41, ...expected },
      ]);
    });

    it('resolves an async actor callback; when it throws the job fails with CALLBACK_FAILED and writes nothing', async () => {
      const w = await start(
        async (job) => {
          await insert(job.data.id);
        },
        {
          actor: async (job) => {
            if (job.data.who === 'nobody') throw new Error('no such user');
            return job.data.who ? ActorRef.admin(job.data.who) : undefined;
          },
        },
      );
      const ctx = { actor: ActorRef.user('enqueuer') };
      const ok = await runWithAuditContext(ctx, () =>
        w.queue.add('ok', auditJobData({ id: 50, who: 'root' })),
      );
      await ok.waitUntilFinished(w.events);
      expect(await rowsOf(50)).toMatchObject([{ actor: 'root', actorType: 'admin' }]);

      const failed = new Promise<Error>((resolve) =>
        w.worker.once('failed', (_job, error) => resolve(error)),
      );
      const bad = await runWithAuditContext(ctx, () =>
        w.queue.add('bad', auditJobData({ id: 51, who: 'nobody' })),
      );
      await expect(bad.waitUntilFinished(w.events)).rejects.toThrow(/actor callback threw \(no such user\)/);
      const error = await failed;
      expect(isThreadlineError(error) && error.code).toBe('CALLBACK_FAILED');
      expect(await rowsOf(51)).toHaveLength(0);
    });

    it('ignores a malformed stamp in job data and falls back to the queue actor', async () => {
      const w = await start(async (job) => {
        await insert(job.data.id);
      });
      const data = {
        id: 60,
        __threadline: { actor: { type: 'wizard', id: 'x' }, correlationId: ' ', causationId: 42 },
      };
      await (await w.queue.add('m', data)).waitUntilFinished(w.events);
      const [row] = await rowsOf(60);
      expect(row).toMatchObject({ actorType: 'job', actor: w.queueName, causationId: null });
      expect(row!.correlationId).toBeTruthy();
    });
  });
}
