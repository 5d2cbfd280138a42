import { ActorRef, type AuditContext, type Threadline } from '@threadline/core';
import { redisEnabled } from '@threadline/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConformanceDb,
  type ConformanceOptions,
  openConformanceDb,
  servicesFor,
  suiteName,
} from './fixture.js';

/** The data of a conformance job. The adapter's producer helper may add its own keys. */
export interface JobTestData {
  id: number;
  /** The processor writes, then throws (the job must fail and its transaction roll back). */
  fail?: boolean;
  /** The actor callback returns ActorRef.user(overrideActor) when set. */
  overrideActor?: string;
  /** The actor callback throws `new Error('actor lookup failed')` when set. */
  actorThrows?: boolean;
}

export interface JobWorkerOptions {
  /** Threadline on a pool of 2 connections to the test database. */
  tl: Threadline;
  /** An audited table `(id int primary key, note text)`. */
  table: string;
  /** The worker's concurrency (at least 8: more jobs in flight than pooled connections). */
  concurrency: number;
  /** The job body: the adapter-wrapped processor calls it with the job's data. */
  process(data: JobTestData): Promise<void>;
  /** The actor callback body: the adapter's `actor` option calls it with the job's data. */
  actor(data: JobTestData): ActorRef | undefined;
}

export interface JobOutcome {
  jobId: string;
  status: 'completed' | 'failed';
  /** The failure message, when failed. */
  reason?: string;
}

export interface JobWorkerHandle {
  /** The queue name (a fresh one per run): the fallback actor is ActorRef.job(queueName). */
  readonly queueName: string;
  /**
   * Enqueue one job (no retries) with `data` stamped by the adapter's producer helper, called
   * inside `runWithAuditContext(inContextOf)` when given and outside any context otherwise.
   * Resolves once the job has completed or failed.
   */
  enqueue(data: JobTestData, options?: { inContextOf?: AuditContext }): Promise<JobOutcome>;
  /** Close the worker, queue and listeners and remove the queue's keys. */
  close(): Promise<void>;
}

/** What a job adapter's test provides: a running worker whose processor the adapter wraps. */
export interface JobAdapterHarness {
  readonly name: string;
  start(options: JobWorkerOptions): Promise<JobWorkerHandle>;
}

/** The shared job-adapter conformance suite (real PostgreSQL and Redis). */
export function describeJobAdapterConformance(
  harness: JobAdapterHarness,
  options: ConformanceOptions = {},
): void {
  describe.runIf(servicesFor(options) && redisEnabled())(
    suiteName(`job adapter conformance: ${harness.name}`, options),
    () => {
      let db: ConformanceDb;
      let worker: JobWorkerHandle;
      let table: string;
      beforeAll(async () => {
        db = await openConformanceDb(2, options);
        table = await db.table();
        worker = await harness.start({
          tl: db.tl,
          table,
          concurrency: 8,
          async process(data) {
            await db.tl.transaction(async (tx) => {
              await tx.query(`insert into ${table} (id) values ($1)`, [data.id]);
              await new Promise((r) => setTimeout(r, Math.random() * 3));
              await tx.query(`update ${table} set note = 'x' where id = $1`, [data.id]);
              if (data.fail) throw new Error('rollback please');
            });
          },
          actor(data) {
            if (data.actorThrows) throw new Error('actor lookup failed');
            return data.overrideActor ? ActorRef.user(data.overrideActor) : undefined;
          },
        });
      });
      afterAll(async () => {
        await worker?.close();
        await db?.close();
      });
      const rowsOf = async (id: number) => (await db.audit(table)).filter((r) => r.id === id);

      it('makes the enqueuing context visible to the capture triggers', async () => {
        const ctx = { actor: ActorRef.user('7'), correlationId: 'corr-j1', requestId: 'req-j1' };
        const outcome = await worker.enqueue({ id: 1 }, { inContextOf: ctx });
        expect(outcome.status).toBe('completed');
        const rows = await rowsOf(1);
        expect(rows).toHaveLength(2);
        for (const row of rows) {
          expect(row).toMatchObject({
            actor: '7',
            actorType: 'user',
            correlationId: 'corr-j1',
            jobId: outcome.jobId,
            causationId: 'req-j1',
            requestId: null,
          });
          expect(row.source).toBeTruthy();
        }
      });

      it('lets the actor callback override the enqueuing actor', async () => {
        const ctx = { actor: ActorRef.user('enqueuer'), correlationId: 'corr-j2' };
        await worker.enqueue({ id: 2, overrideActor: 'override' }, { inContextOf: ctx });
        expect((await rowsOf(2))[0]).toMatchObject({ actor: 'override', correlationId: 'corr-j2' });
      });

      it('attributes 100 concurrent jobs with distinct actors on a pool of 2', async () => {
        const ids = Array.from({ length: 100 }, (_, i) => 1000 + i);
        const outcomes = await Promise.all(
          ids.map((id) =>
            worker.enqueue(
              { id },
              { inContextOf: { actor: ActorRef.user(`u${id}`), correlationId: `c${id}` } },
            ),
          ),
        );
        expect(outcomes.every((o) => o.status === 'completed')).toBe(true);
        const jobIds = new Map(ids.map((id, i) => [id, outcomes[i]!.jobId]));
        const rows = (await db.audit(table)).filter((r) => r.id >= 1000 && r.id < 1100);
        expect(rows).toHaveLength(200);
        for (const row of rows) {
          expect(row).toMatchObject({
            actor: `u${row.id}`,
            correlationId: `c${row.id}`,
            jobId: jobIds.get(row.id),
          });
        }
      });

      it('never leaks a context to the next job on a pooled connection', async () => {
        const ctx = { actor: ActorRef.user('someone'), correlationId: 'corr-leak', requestId: 'req-leak' };
        await worker.enqueue({ id: 2000 }, { inContextOf: ctx });
        for (let i = 1; i <= 6; i++) await worker.enqueue({ id: 2000 + i });
        const rows = (await db.audit(table)).filter((r) => r.id > 2000 && r.id <= 2006);
        expect(rows).toHaveLength(12);
        for (const row of rows) {
          // ActorRef.job(queueName), not the previous job's actor.
          expect(row).toMatchObject({ actorType: 'job', actor: worker.queueName, causationId: null });
          expect(row.correlationId).not.toBe('corr-leak');
        }
      });

      it('leaves no audit rows when the processor rolls back', async () => {
        const outcome = await worker.enqueue(
          { id: 3000, fail: true },
          { inContextOf: { actor: ActorRef.user('rb') } },
        );
        expect(outcome).toMatchObject({
          status: 'failed',
          reason: expect.stringContaining('rollback please'),
        });
        expect(await rowsOf(3000)).toHaveLength(0);
      });

      it('fails the job when the actor callback throws, and writes nothing', async () => {
        const ctx = { actor: ActorRef.user('wrong') };
        const outcome = await worker.enqueue({ id: 6000, actorThrows: true }, { inContextOf: ctx });
        expect(outcome).toMatchObject({
          status: 'failed',
          reason: expect.stringContaining('actor lookup failed'),
        });
        expect(await rowsOf(6000)).toHaveLength(0);
        // The next job on the same pool is attributed normally.
        await worker.enqueue({ id: 6001 }, { inContextOf: { actor: ActorRef.user('right') } });
        expect((await rowsOf(6001))[0]).toMatchObject({ actor: 'right' });
      });
    },
  );
}
