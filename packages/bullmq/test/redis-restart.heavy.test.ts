import { openConformanceDb } from '@threadline/conformance';
import { ActorRef, runWithAuditContext } from '@threadline/core';
import {
  postgresEnabled,
  REQUIRE_SERVICES,
  redisServerInstalled,
  startThrowawayRedis,
} from '@threadline/test-utils';
import { Queue, Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { auditJobData, withAuditContext } from '../src/index.js';

// SPEC §13: Redis restarted (a crash: SIGKILL) while BullMQ jobs run. Redis runs with an
// append-only file fsynced on every write, as a deployment that must not lose jobs does (without
// persistence a restart drops every queued job, which no library can repair). Jobs fail on their
// first attempt on purpose, so retries run on both sides of the restart.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const JOBS = 40;

interface Data {
  n: number;
}

describe.runIf(postgresEnabled() && (redisServerInstalled() || REQUIRE_SERVICES))(
  'BullMQ across a Redis restart',
  () => {
    it('every job completes; retried jobs keep their enqueuer’s context; data and audit rows one to one', async () => {
      const redis = await startThrowawayRedis({ persistent: true });
      if (!redis) throw new Error('redis-server missing');
      const db = await openConformanceDb(2);
      const connection = { host: redis.host, port: redis.port, maxRetriesPerRequest: null };
      const queue = new Queue<Data>('restart', { connection });
      queue.on('error', () => undefined);
      const table = await db.table();
      const worker = new Worker<Data>(
        'restart',
        withAuditContext(async (job) => {
          // One row per attempt: (n, attempt) in `id`; the first attempt of an odd job rolls back.
          await db.tl.transaction(async (tx) => {
            await tx.query(`insert into ${table} (id, note) values ($1, $2)`, [
              job.data.n * 100 + job.attemptsMade,
              job.id,
            ]);
            await sleep(20);
            if (job.data.n % 2 === 1 && job.attemptsMade === 0) throw new Error('first attempt fails');
          });
        }),
        { connection, concurrency: 8, lockDuration: 2000, stalledInterval: 1000 },
      );
      worker.on('error', () => undefined);
      try {
        await worker.waitUntilReady();
        const jobIds = new Map<string, number>();
        const enqueue = async (n: number) => {
          const job = await runWithAuditContext(
            { actor: ActorRef.user(`enq${n}`), correlationId: `corr${n}` },
            () =>
              queue.add('w', auditJobData({ n }), {
                attempts: 6,
                backoff: { type: 'fixed', delay: 100 },
              }),
          );
          jobIds.set(job.id!, n);
        };
        for (let n = 0; n < JOBS; n++) await enqueue(n);
        const countOf = async (state: 'completed' | 'failed') => {
          for (;;) {
            try {
              return (await queue.getJobCounts(state))[state] ?? 0;
            } catch {
              await sleep(50);
            }
          }
        };
        while ((await countOf('completed')) < 8) await sleep(20);
        await redis.restart(300);
        const deadline = Date.now() + 45_000;
        while ((await countOf('completed')) < JOBS) {
          if (Date.now() > deadline)
            throw new Error(`only ${await countOf('completed')} of ${JOBS} jobs completed`);
          await sleep(100);
        }
        // And the next 100 jobs, enqueued after the restart.
        await Promise.all(Array.from({ length: 100 }, (_, i) => enqueue(JOBS + i)));
        while ((await countOf('completed')) < JOBS + 100) {
          if (Date.now() > deadline) throw new Error(`only ${await countOf('completed')} jobs completed`);
          await sleep(100);
        }
        expect(await countOf('failed')).toBe(0);

        const audit = (await db.audit(table)).filter((r) => r.op === 'insert');
        const { rows } = await db.server.pool.query<{ id: number; note: string }>(
          `select id, note from ${table} order by id`,
        );
        expect(audit.map((r) => r.id).sort((a, b) => a - b)).toEqual(rows.map((r) => r.id));
        const runs = new Map<number, number>();
        for (const row of audit) {
          const n = Math.floor(row.id / 100);
          runs.set(n, (runs.get(n) ?? 0) + 1);
          expect(row).toMatchObject({ actor: `enq${n}`, actorType: 'user', correlationId: `corr${n}` });
          expect(jobIds.get(row.jobId ?? '')).toBe(n);
        }
        // Every job has its committed attempt; odd jobs committed on a retry, not the first attempt.
        expect([...runs.keys()].sort((a, b) => a - b)).toEqual(
          Array.from({ length: JOBS + 100 }, (_, n) => n),
        );
        for (const row of rows.filter((r) => Math.floor(r.id / 100) % 2 === 1))
          expect(row.id % 100).toBeGreaterThan(0);
      } finally {
        await worker.close(true).catch(() => undefined);
        await queue.close().catch(() => undefined);
        await redis.stop();
        await db.close();
      }
    });
  },
);
