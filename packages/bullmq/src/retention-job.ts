import type { PurgeOptions, Threadline } from '@threadline/core';
import {
  ActorRef,
  isThreadlineError,
  parsePurgeSchedule,
  runWithFreshAuditContext,
  ThreadlineError,
} from '@threadline/core/adapter';
import { type Queue, Worker } from 'bullmq';

export const RETENTION_JOB_NAME = 'threadline.retention';
const SCHEDULER_ID = 'threadline-retention';

/**
 * `every`, and tl.retention.purge's options, given to every purge (`dryRun: true` schedules dry
 * runs, `cutoff` a fixed older cutoff, `batchSize`, `maxBatches`, …). Unknown keys are refused.
 */
export interface RetentionJobOptions extends PurgeOptions {
  /** Milliseconds between purges (at least one minute), or "30m", "1h", "1d". */
  every: number | string;
}

export interface RetentionJobHandle {
  readonly worker: Worker;
  /** Stop the worker and remove the schedule (purges already done stay done). */
  close(): Promise<void>;
}

/**
 * Purge on a BullMQ schedule: a job scheduler on `queue` (one schedule however many processes
 * call this) and a worker that runs `tl.retention.purge(options)` (the purge options given here)
 * as `job:<queue>`. A purge already
 * going elsewhere makes the job end quietly; one run at a time per database either way.
 * Needs bullmq 5.16 or later (job schedulers).
 */
export async function retentionJob(
  queue: Queue,
  tl: Threadline,
  options: RetentionJobOptions,
): Promise<RetentionJobHandle> {
  // Checked before anything is scheduled: the keys, `every`, and the purge options' types.
  const { every, purge } = parsePurgeSchedule(options, 'retentionJob');
  if (typeof (queue as { upsertJobScheduler?: unknown }).upsertJobScheduler !== 'function') {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      'retentionJob: this bullmq has no job schedulers; upgrade bullmq to 5.16 or later',
    );
  }
  if (!tl?.retention?.policy?.enabled) {
    throw new ThreadlineError(
      'RETENTION_DISABLED',
      'retentionJob: the Threadline instance has no enabled retention policy; pass createThreadline({ retention: { enabled: true, keepDays: 365 } })',
    );
  }
  await queue.upsertJobScheduler(SCHEDULER_ID, { every }, { name: RETENTION_JOB_NAME, data: {} });
  const worker = new Worker(
    queue.name,
    async (job) => {
      if (job.name !== RETENTION_JOB_NAME) return undefined;
      return runWithFreshAuditContext(
        { actor: ActorRef.job(queue.name), jobId: String(job.id), source: 'threadline:retention' },
        async () => {
          try {
            return await tl.retention.purge(purge);
          } catch (error) {
            if (isThreadlineError(error, 'RETENTION_RUNNING')) return { skipped: 'another purge is running' };
            throw error;
          }
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
