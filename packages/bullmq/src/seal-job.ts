import type { SealOptions, Threadline } from '@threadline/core';
import { parseSealSchedule, ThreadlineError } from '@threadline/core/adapter';
import type { Queue } from 'bullmq';
import { checkJobSchedulers, type ScheduledJobHandle, scheduledJob } from './scheduled-job.js';

export const SEAL_JOB_NAME = 'threadline.seal';

/** `every`, and tl.integrity.seal's options, given to every seal. Unknown keys are refused. */
export interface SealJobOptions extends SealOptions {
  /** Milliseconds between seals (at least one minute), or "5m", "1h", "1d". */
  every: number | string;
}

export type SealJobHandle = ScheduledJobHandle;

/**
 * Seal on a BullMQ schedule: a job scheduler on `queue` (one schedule however many processes call
 * this) and a worker that runs `tl.integrity.seal(options)` as `job:<queue>`. Seals serialise on the
 * chain's advisory lock in the database, so a second worker only finds nothing left to seal.
 * Needs bullmq 5.16 or later (job schedulers).
 */
export async function sealJob(queue: Queue, tl: Threadline, options: SealJobOptions): Promise<SealJobHandle> {
  const { every, seal } = parseSealSchedule(options, 'sealJob');
  checkJobSchedulers(queue, 'sealJob');
  if (typeof tl?.integrity?.seal !== 'function') {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      'sealJob: pass the Threadline instance from createThreadline()',
    );
  }
  return scheduledJob(queue, {
    name: SEAL_JOB_NAME,
    schedulerId: 'threadline-seal',
    every,
    source: 'threadline:seal',
    async run() {
      const result = await tl.integrity.seal(seal);
      return { sealedRows: result.sealedRows, links: result.links.length, headHash: result.headHash };
    },
  });
}
