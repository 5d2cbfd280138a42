export type { TableName } from './capture/identifiers.js';
export type { ResolvedTableOptions, TableCaptureOptions } from './capture/table-options.js';
export { ACTOR_TYPES, ActorRef, type ActorType } from './context/actor-ref.js';
export { BIND_CONTEXT_SQL, type ContextBinding, contextBinding } from './context/binding.js';
export {
  type AuditContext,
  getAuditContext,
  runWithAuditContext,
  runWithFreshAuditContext,
  setAuditActor,
  updateAuditContext,
} from './context/context.js';
export * from './continuity/index.js';
export type { ReadConsistency, ReadOptions } from './db/read-routing.js';
export type {
  SqlClient,
  SqlResult,
  SqlSession,
  TransactionBody,
  TransactionFinish,
} from './db/sql-client.js';
export { isThreadlineError, ThreadlineError, ThreadlineErrorCode } from './errors.js';
export * from './export/index.js';
export * from './health/index.js';
export type { InstallFinding, InstallResult, UninstallOptions, UninstallResult } from './install/install.js';
export type { PartitionUnit } from './install/install-script.js';
export * from './integrity/index.js';
export * from './policy/index.js';
export type { Activity, ActivityBucket, ActivityBucketSize, ActivityFilters } from './query/activity.js';
export { changeDiff, type MaskInfo } from './query/change-diff.js';
export type { TransactionFilter } from './query/incident.js';
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
export type { TimelineFilters } from './query/validate.js';
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
export type { RevertApi } from './revert/index.js';
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
export type { StorageConfig } from './storage/config.js';
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
