export { BASELINE_UNCOVERED_TABLES } from './baseline-tables.js';
export {
  type HealthConfig,
  type ResolvedHealthConfig,
  resolveHealthConfig,
  resolveVerifyCoverageConfig,
} from './config.js';
export { HealthChecks } from './health.js';
export type { ReadReplicaStatus } from './read-replica.js';
export type {
  CoverageOptions,
  CoverageReport,
  Finding,
  FindingCode,
  FindingsOptions,
  SchemaCoverage,
  SchemaSelection,
  VerifiedTable,
  VerifyOptions,
  VerifyReport,
} from './types.js';
