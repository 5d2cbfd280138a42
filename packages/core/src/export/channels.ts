import { channel } from 'node:diagnostics_channel';
import type { ExportFormat } from './options.js';

/**
 * Telemetry of exports on node:diagnostics_channel. Payloads carry sizes, durations and error
 * codes only: never values, actor ids or correlation ids.
 */
export const EXPORT_COMPLETED_CHANNEL = 'threadline:export:completed';
export const EXPORT_FAILED_CHANNEL = 'threadline:export:failed';

export interface ExportTelemetry {
  format: ExportFormat;
  /** `stream`, `buffer`, `job` or `download`. */
  kind: 'stream' | 'buffer' | 'job' | 'download';
  rowCount: number;
  bytes: number;
  durationMs: number;
  truncated: boolean;
  /** A ThreadlineError code (or `UNKNOWN`) on the failed channel. */
  errorCode?: string;
}

const completed = channel(EXPORT_COMPLETED_CHANNEL);
const failed = channel(EXPORT_FAILED_CHANNEL);

export function publishExportCompleted(event: ExportTelemetry): void {
  if (completed.hasSubscribers) completed.publish(event);
}

export function publishExportFailed(event: ExportTelemetry): void {
  if (failed.hasSubscribers) failed.publish(event);
}
