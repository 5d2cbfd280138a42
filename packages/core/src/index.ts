export {
  formatTableName,
  parseTableName,
  quoteIdent,
  splitTableList,
  type TableName,
} from './capture/identifiers.js';
export {
  DEFAULT_MASK_PLACEHOLDER,
  type ResolvedTableOptions,
  resolveTableOptions,
  resolveTablesConfig,
  type TableCaptureOptions,
} from './capture/table-options.js';
export { ACTOR_TYPES, ActorRef, type ActorType, MAX_ACTOR_ID_BYTES } from './context/actor-ref.js';
export { BIND_CONTEXT_SQL, type ContextBinding, contextBinding } from './context/binding.js';
export {
  type AuditContext,
  cleanContextId,
  getAuditContext,
  MAX_CONTEXT_ID_BYTES,
  runWithAuditContext,
  runWithFreshAuditContext,
  setAuditActor,
  updateAuditContext,
  validateAuditContext,
} from './context/context.js';
export * from './continuity/index.js';
export { type ReadConsistency, type ReadOptions, ReadRouting } from './db/read-routing.js';
export type {
  SqlClient,
  SqlResult,
  SqlSession,
  TransactionBody,
  TransactionFinish,
} from './db/sql-client.js';
export { toSqlClient } from './db/sql-client.js';
export { isThreadlineError, ThreadlineError, ThreadlineErrorCode } from './errors.js';
export * from './export/index.js';
export * from './health/index.js';
export type { InstallFinding, InstallResult, UninstallOptions, UninstallResult } from './install/install.js';
export {
  DEFAULT_PARTITION,
  installScript,
  PARTITION_UNITS,
  type PartitionUnit,
  SCHEMA_VERSION,
} from './install/install-script.js';
export { type MigrationFile, type MigrationFormat, renderMigration } from './install/migrations.js';
export * from './integrity/index.js';
export * from './policy/index.js';
export {
  ACTIVITY_BUCKETS,
  type Activity,
  type ActivityBucket,
  type ActivityBucketSize,
  type ActivityFilters,
  MAX_ACTIVITY_BUCKETS,
} from './query/activity.js';
export { changeDiff, type MaskInfo, WHOLE_ROW_FIELD } from './query/change-diff.js';
export { isExactNumber, parseExactJson } from './query/exact-json.js';
export { MAX_INCIDENT_CHANGES, type TransactionFilter } from './query/incident.js';
export type {
  AsOfResult,
  AuditActionInfo,
  AuditChange,
  AuditTransactionInfo,
  ChangeDiff,
  ChangeOp,
  FieldDiff,
  IncidentBundle,
  IncidentOptions,
  Page,
  PageOptions,
  RowKey,
  TimeWindow,
} from './query/types.js';
export {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  parseInstant,
  TIMELINE_FILTER_KEYS,
  type TimelineFilters,
} from './query/validate.js';
export { RETENTION_CHANNELS } from './retention/channels.js';
export type {
  ArchiveBatch,
  ArchiveSummary,
  PurgeOptions,
  PurgeProgress,
  PurgeResult,
  ResolvedRetentionPolicy,
  RetentionApi,
  RetentionArchive,
  RetentionPolicy,
  RetentionRun,
  RetentionSchedule,
  ScheduleOptions,
} from './retention/index.js';
export { resolveRetentionPolicy } from './retention/policy.js';
export { RevertApi } from './revert/index.js';
export type {
  RevertApplyOptions,
  RevertApplyResult,
  RevertConflict,
  RevertConflictKind,
  RevertPlan,
  RevertProgress,
  RevertStep,
  RevertStepOp,
  RevertSummary,
  RevertTarget,
} from './revert/types.js';
export { resolveStorageConfig, type StorageConfig } from './storage/config.js';
export type {
  MaintainOptions,
  MaintainProgress,
  MaintainResult,
  StorageApi,
  StoragePartition,
  StorageStatus,
} from './storage/index.js';
export * from './telemetry/index.js';
export {
  type CapturePlan,
  createThreadline,
  type RecordActionOptions,
  type RecordedAction,
  Threadline,
  type ThreadlineOptions,
  type TransactionResult,
  type TriggerOptions,
} from './threadline.js';
