import {
  type ActorResolver,
  checkActorResolver,
  JOB_CONTEXT_KEY,
  type JobContextData,
  jobAuditContext,
  jobContextData,
  readSetupOptions,
  resolveActor,
  runWithFreshAuditContext,
  ThreadlineError,
} from '@threadline/core/adapter';
import type { Job, Processor } from 'bullmq';

/** Job data with the enqueuing context stamped under core's reserved key. */
export type AuditedJobData<T> = T & { [JOB_CONTEXT_KEY]?: JobContextData };

/**
 * Producer side: return `data` with the current audit context (actor, correlation id, and the
 * current request or job id as the causation id) stamped under `__threadline`. Outside any
 * context the data is returned unchanged.
 */
export function auditJobData<T extends object>(data: T): AuditedJobData<T> {
  const stamp = jobContextData();
  if (!stamp) return data;
  if (Array.isArray(data)) {
    throw new ThreadlineError(
      'INVALID_CONTEXT',
      'auditJobData(data): job data must be an object to carry the audit context; wrap the array, e.g. { items: [...] }',
    );
  }
  return { ...data, [JOB_CONTEXT_KEY]: stamp };
}

// biome-ignore lint/suspicious/noExplicitAny: the same defaults as bullmq's own Processor and Job types
export interface WithAuditContextOptions<Data = any, Result = any, Name extends string = string> {
  /**
   * The actor of this job. May be async. Returning nothing keeps the actor who enqueued the job
   * (or ActorRef.job(queueName) when there is none). If it throws, the job fails with
   * ThreadlineError('CALLBACK_FAILED') before the processor runs.
   */
  actor?: ActorResolver<[job: Job<Data, Result, Name>]>;
}

/**
 * Worker side: wrap a BullMQ processor so each job runs in its own audit context: the enqueuing
 * actor and correlation id, `jobId` = the job's id, `causationId` = the request or job that
 * enqueued it, source "bullmq". A job enqueued outside any context gets ActorRef.job(queueName)
 * and a correlation id derived from the job (the same on every retry).
 */
// biome-ignore lint/suspicious/noExplicitAny: the same defaults as bullmq's own Processor and Job types
export function withAuditContext<Data = any, Result = any, Name extends string = string>(
  processor: Processor<Data, Result, Name>,
  input: WithAuditContextOptions<Data, Result, Name> = {},
): Processor<Data, Result, Name> {
  const options: WithAuditContextOptions<Data, Result, Name> = readSetupOptions(
    input,
    '@threadline/bullmq withAuditContext',
  );
  checkActorResolver(options.actor, '@threadline/bullmq withAuditContext');
  return async (job, ...rest) => {
    const actor = await resolveActor(options.actor, `@threadline/bullmq (queue ${job.queueName})`, job);
    const ctx = jobAuditContext({
      queue: job.queueName,
      jobId: job.id,
      attempt: job.attemptsMade + 1,
      enqueuedAt: job.timestamp,
      data: job.data,
      source: 'bullmq',
      actor,
    });
    return runWithFreshAuditContext(ctx, () => processor(job, ...rest));
  };
}

export {
  EXPORT_QUEUE_NAME,
  type ExportJobSummary,
  type ExportQueueData,
  type ExportWorkerOptions,
  exportQueueRunner,
  exportWorker,
} from './export-worker.js';
export {
  RETENTION_JOB_NAME,
  type RetentionJobHandle,
  type RetentionJobOptions,
  retentionJob,
} from './retention-job.js';
export { SEAL_JOB_NAME, type SealJobHandle, type SealJobOptions, sealJob } from './seal-job.js';
