export { BASELINE_SOURCE } from './baseline.js';
export { ContinuityChecks } from './continuity.js';
export type {
  BaselineOptions,
  BaselineProgress,
  BaselineResult,
  ContinuityEntry,
  ContinuityReport,
  ContinuityReportOptions,
} from './types.js';
