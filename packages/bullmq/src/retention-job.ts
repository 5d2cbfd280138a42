import type { PurgeOptions, Threadline } from '@threadline/core';
import { isThreadlineError, parsePurgeSchedule, ThreadlineError } from '@threadline/core/adapter';
import type { Queue } from 'bullmq';
import { checkJobSchedulers, type ScheduledJobHandle, scheduledJob } from './scheduled-job.js';

export const RETENTION_JOB_NAME = 'threadline.retention';

/**
 * `every`, and tl.retention.purge's options, given to every purge (`dryRun: true` schedules dry
 * runs, `cutoff` a fixed older cutoff, `batchSize`, `maxBatches`, …). Unknown keys are refused.
 */
export interface RetentionJobOptions extends PurgeOptions {
  /** Milliseconds between purges (at least one minute), or "30m", "1h", "1d". */
  every: number | string;
}

export type RetentionJobHandle = ScheduledJobHandle;

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
  checkJobSchedulers(queue, 'retentionJob');
  if (!tl?.retention?.policy?.enabled) {
    throw new ThreadlineError(
      'RETENTION_DISABLED',
      'retentionJob: the Threadline instance has no enabled retention policy; pass createThreadline({ retention: { enabled: true, keepDays: 365 } })',
    );
  }
  return scheduledJob(queue, {
    name: RETENTION_JOB_NAME,
    schedulerId: 'threadline-retention',
    every,
    source: 'threadline:retention',
    async run() {
      try {
        return await tl.retention.purge(purge);
      } catch (error) {
        if (isThreadlineError(error, 'RETENTION_RUNNING')) return { skipped: 'another purge is running' };
        throw error;
      }
    },
  });
}
