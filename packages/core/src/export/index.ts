export { EXPORT_COMPLETED_CHANNEL, EXPORT_FAILED_CHANNEL, type ExportTelemetry } from './channels.js';
export { EXPORT_COLUMNS, type ExportColumn } from './columns.js';
export { EXPORT_ACTION, type ExportBuffer, ThreadlineExport } from './export.js';
export type { ExportJob, ExportJobStatus } from './job-rows.js';
export { DEFAULT_EXPORT_TTL_MS, type ExportJobsConfig, type ExportRunner } from './jobs.js';
export {
  DEFAULT_COUNT_CAP,
  DEFAULT_MAX_ROWS,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportStreamOptions,
} from './options.js';
export { type ExportStorage, LocalDirectoryStorage } from './storage.js';
export { type ExportStats, ExportStream } from './stream.js';
