import type { ExportJob, ExportRunner, Threadline } from '@threadline/core';
import { readSetupOptions, ThreadlineError } from '@threadline/core/adapter';
import { type ConnectionOptions, type Queue, Worker, type WorkerOptions } from 'bullmq';

/** The default queue name for Threadline export jobs. */
export const EXPORT_QUEUE_NAME = 'threadline-exports';

/** What an export queue job carries: only the id of the export_jobs row (no filters, no actor). */
export interface ExportQueueData {
  exportJobId: string;
}

/**
 * A runner that hands background exports to a BullMQ queue instead of running them in this
 * process: `tl.export.configure({ runner: exportQueueRunner(queue) })`. The BullMQ job id is
 * derived from the export job id, so enqueuing the same export twice queues it once.
 */
export function exportQueueRunner(queue: Queue<ExportQueueData>): ExportRunner {
  return {
    async run(exportJobId) {
      await queue.add('threadline.export', { exportJobId }, { jobId: `export-${exportJobId}`, attempts: 1 });
    },
  };
}

export interface ExportWorkerOptions {
  threadline: Threadline;
  connection: ConnectionOptions;
  /** Default `threadline-exports`. */
  queueName?: string;
  /** Passed to BullMQ's Worker (concurrency, prefix, …). */
  workerOptions?: Omit<WorkerOptions, 'connection'>;
}

/**
 * A BullMQ Worker that runs Threadline's background exports: each queue job names an
 * export_jobs row, which the worker streams to the export storage configured on `threadline`.
 * A failed export fails the BullMQ job with the export's error (code and message, no values).
 */
export function exportWorker(options: ExportWorkerOptions): Worker<ExportQueueData, ExportJobSummary> {
  const {
    threadline,
    connection,
    queueName = EXPORT_QUEUE_NAME,
    workerOptions = {},
  } = readSetupOptions(options, 'exportWorker') as unknown as ExportWorkerOptions;
  return new Worker<ExportQueueData, ExportJobSummary>(
    queueName,
    async (job) => {
      const id = job.data?.exportJobId;
      if (typeof id !== 'string')
        throw new ThreadlineError(
          'CONFIG_INVALID',
          `exportWorker: queue job ${job.id} has no exportJobId; add jobs with exportQueueRunner(queue)`,
        );
      const result = await threadline.export.runJob(id);
      if (result.status === 'failed')
        throw new ThreadlineError('EXPORT_ABORTED', `export job ${id} failed: ${result.error ?? 'unknown'}`);
      return summary(result);
    },
    { ...workerOptions, connection },
  );
}

/** What the BullMQ job returns: the export's outcome without filters or actor. */
export interface ExportJobSummary {
  exportJobId: string;
  status: ExportJob['status'];
  rowCount: number | null;
  bytes: number | null;
}

function summary(job: ExportJob): ExportJobSummary {
  return { exportJobId: job.id, status: job.status, rowCount: job.rowCount, bytes: job.bytes };
}
