import { randomUUID } from 'node:crypto';
import { ActorRef } from './actor-ref.js';
import { JOB_CONTEXT_KEY, readJobContextData } from './adapter-helpers.js';
import { type AuditContext, cleanContextId } from './context.js';

/** What a job runner knows about the job it is about to run. */
export interface JobContextInput {
  /** The queue's name: the fallback actor is ActorRef.job(queue). */
  queue: string;
  /** The job's id (recorded as `jobId`). */
  jobId: string | number | null | undefined;
  /** 1 for the first run, 2 for the first retry, … (recorded in `meta.attempt`). */
  attempt: number;
  /**
   * When the job was enqueued (milliseconds; BullMQ's `job.timestamp`). With the queue and the job
   * id it makes the fallback correlation id, so every retry of a job shares one.
   */
  enqueuedAt?: number | undefined;
  /** The job's data: the context a producer stamped under JOB_CONTEXT_KEY (`auditJobData`) is read from it. */
  data?: unknown;
  /** The job system, e.g. "bullmq": the context's `source` and the fallback correlation id's prefix. */
  source: string;
  /** An actor that overrides the enqueuing one (a user's `actor(job)` callback's result). */
  actor?: ActorRef | undefined;
}

/**
 * The audit context a job runs in, the same for every job system and every adapter that runs
 * jobs (`@threadline/bullmq`'s withAuditContext, the NestJS + BullMQ recipe):
 * - actor: `input.actor`, else the actor who enqueued the job, else `ActorRef.job(queue)`;
 * - correlationId: the enqueuer's, else `<source>:<queue>:<jobId>:<enqueuedAt>` (stable across
 *   retries and stalls);
 * - jobId: the job's id; causationId: the request or job that enqueued it;
 * - meta: `{ queue, attempt }`.
 * Malformed values in job data are ignored, never fatal (job data comes from outside).
 */
export function jobAuditContext(input: JobContextInput): AuditContext {
  const data = input.data as Record<string, unknown> | null | undefined;
  const carried = readJobContextData(
    typeof data === 'object' && data !== null ? data[JOB_CONTEXT_KEY] : undefined,
  );
  const jobId = cleanContextId(
    input.jobId === null || input.jobId === undefined ? undefined : String(input.jobId),
  );
  return {
    actor: input.actor ?? carried.actor ?? ActorRef.job(input.queue),
    correlationId:
      carried.correlationId ??
      cleanContextId(`${input.source}:${input.queue}:${jobId}:${input.enqueuedAt}`) ??
      randomUUID(),
    jobId,
    causationId: carried.causationId,
    source: input.source,
    meta: { queue: input.queue, attempt: input.attempt },
  };
}
