import { ActorRef, runWithFreshAuditContext, ThreadlineError } from '@threadline/core/adapter';
import { type Queue, Worker } from 'bullmq';

export interface ScheduledJobHandle {
  readonly worker: Worker;
  /** Stop the worker and remove the schedule (work already done stays done). */
  close(): Promise<void>;
}

interface ScheduledJob {
  /** The job's name on the queue, and the id of its job scheduler. */
  name: string;
  schedulerId: string;
  every: number;
  /** The audit context's source of the job's own writes (`threadline:retention`). */
  source: string;
  run: () => Promise<unknown>;
}

/** BullMQ's job schedulers, or a clear error for a bullmq without them. */
export function checkJobSchedulers(queue: Queue, where: string): void {
  if (typeof (queue as { upsertJobScheduler?: unknown }).upsertJobScheduler !== 'function') {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${where}: this bullmq has no job schedulers; upgrade bullmq to 5.16 or later`,
    );
  }
}

/**
 * A job scheduler on `queue` (one schedule however many processes call this) and a worker that
 * runs `job.run` for the scheduler's jobs, one at a time, as `job:<queue>` with `job.source`.
 * Other jobs on the queue are left alone.
 */
export async function scheduledJob(queue: Queue, job: ScheduledJob): Promise<ScheduledJobHandle> {
  await queue.upsertJobScheduler(job.schedulerId, { every: job.every }, { name: job.name, data: {} });
  const worker = new Worker(
    queue.name,
    async (queued) => {
      if (queued.name !== job.name) return undefined;
      return runWithFreshAuditContext(
        { actor: ActorRef.job(queue.name), jobId: String(queued.id), source: job.source },
        job.run,
      );
    },
    { connection: queue.opts.connection, prefix: queue.opts.prefix, concurrency: 1 },
  );
  await worker.waitUntilReady();
  return {
    worker,
    async close() {
      await worker.close();
      await queue.removeJobScheduler(job.schedulerId);
    },
  };
}
