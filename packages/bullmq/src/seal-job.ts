import type { SealOptions, Threadline } from '@threadline/core';
import {
  ActorRef,
  parseSealSchedule,
  runWithFreshAuditContext,
  ThreadlineError,
} from '@threadline/core/adapter';
import { type Queue, Worker } from 'bullmq';

export const SEAL_JOB_NAME = 'threadline.seal';
const SCHEDULER_ID = 'threadline-seal';

/** `every`, and tl.integrity.seal's options, given to every seal. Unknown keys are refused. */
export interface SealJobOptions extends SealOptions {
  /** Milliseconds between seals (at least one minute), or "5m", "1h", "1d". */
  every: number | string;
}

export interface SealJobHandle {
  readonly worker: Worker;
  /** Stop the worker and remove the schedule (seals already written stay). */
  close(): Promise<void>;
}

/**
 * Seal on a BullMQ schedule: a job scheduler on `queue` (one schedule however many processes call
 * this) and a worker that runs `tl.integrity.seal(options)` as `job:<queue>`. Seals serialise on the
 * chain's advisory lock in the database, so a second worker only finds nothing left to seal.
 * Needs bullmq 5.16 or later (job schedulers).
 */
export async function sealJob(queue: Queue, tl: Threadline, options: SealJobOptions): Promise<SealJobHandle> {
  const { every, seal } = parseSealSchedule(options, 'sealJob');
  if (typeof (queue as { upsertJobScheduler?: unknown }).upsertJobScheduler !== 'function') {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      'sealJob: this bullmq has no job schedulers; upgrade bullmq to 5.16 or later',
    );
  }
  if (typeof tl?.integrity?.seal !== 'function') {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      'sealJob: pass the Threadline instance from createThreadline()',
    );
  }
  await queue.upsertJobScheduler(SCHEDULER_ID, { every }, { name: SEAL_JOB_NAME, data: {} });
  const worker = new Worker(
    queue.name,
    async (job) => {
      if (job.name !== SEAL_JOB_NAME) return undefined;
      return runWithFreshAuditContext(
        { actor: ActorRef.job(queue.name), jobId: String(job.id), source: 'threadline:seal' },
        async () => {
          const result = await tl.integrity.seal(seal);
          return { sealedRows: result.sealedRows, links: result.links.length, headHash: result.headHash };
        },
      );
    },
    { connection: queue.opts.connection, prefix: queue.opts.prefix, concurrency: 1 },
  );
  await worker.waitUntilReady();
  return {
    worker,
    async close() {
      await worker.close();
      await queue.removeJobScheduler(SCHEDULER_ID);
    },
  };
}
