import { randomBytes } from 'node:crypto';
import type { JobAdapterHarness, JobTestData } from '@threadline/conformance';
import { runWithAuditContext } from '@threadline/core';
import { redisConnection } from '@threadline/test-utils';
import type * as Bullmq from 'bullmq';
import type { Processor, WorkerOptions } from 'bullmq';
import { auditJobData, type WithAuditContextOptions, withAuditContext } from '../src/index.js';

/** The parts of a bullmq module the tests use (bullmq 6, or bullmq 5 through the npm alias). */
export type BullmqModule = Pick<typeof Bullmq, 'Queue' | 'Worker' | 'QueueEvents' | 'FlowProducer'>;

/** Every key the tests create lives under this prefix, on a fresh queue name per worker. */
export const PREFIX = 'tl-test';
export const connection = redisConnection();

export interface TestWorker<D> {
  queueName: string;
  queue: Bullmq.Queue<D>;
  events: Bullmq.QueueEvents;
  worker: Bullmq.Worker<D>;
  close(): Promise<void>;
}

/** A queue, its QueueEvents and a Worker running `processor` wrapped by withAuditContext. */
export async function startWorker<D>(
  mq: BullmqModule,
  processor: Processor<D>,
  options: WithAuditContextOptions<D> = {},
  workerOptions: Partial<WorkerOptions> = {},
): Promise<TestWorker<D>> {
  const queueName = `tl-${randomBytes(5).toString('hex')}`;
  const queue = new mq.Queue<D>(queueName, { connection, prefix: PREFIX });
  queue.setMaxListeners(0); // one 'closing' listener per job.waitUntilFinished (100 at once)
  const events = new mq.QueueEvents(queueName, { connection, prefix: PREFIX });
  const worker = new mq.Worker<D>(queueName, withAuditContext(processor, options), {
    connection,
    prefix: PREFIX,
    ...workerOptions,
  });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
  return {
    queueName,
    queue,
    events,
    worker,
    // Teardown order that lets vitest exit: worker, events, then the queue's keys and the queue.
    async close() {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    },
  };
}

/** The job conformance harness for a bullmq module. */
export function bullmqHarness(name: string, mq: BullmqModule): JobAdapterHarness {
  return {
    name,
    async start({ concurrency, process, actor }) {
      const w = await startWorker<JobTestData>(
        mq,
        (job) => process(job.data),
        { actor: (job) => actor(job.data) },
        { concurrency },
      );
      return {
        queueName: w.queueName,
        async enqueue(data, { inContextOf } = {}) {
          const add = () => w.queue.add('conformance', auditJobData(data), { attempts: 1 });
          const job = await (inContextOf ? runWithAuditContext(inContextOf, add) : add());
          try {
            await job.waitUntilFinished(w.events);
            return { jobId: job.id!, status: 'completed' };
          } catch (error) {
            return { jobId: job.id!, status: 'failed', reason: (error as Error).message };
          }
        },
        close: () => w.close(),
      };
    },
  };
}
