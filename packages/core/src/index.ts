export { ACTOR_TYPES, ActorRef, type ActorType, MAX_ACTOR_ID_BYTES } from './actor-ref.js';
export { BIND_CONTEXT_SQL, type ContextBinding, contextBinding } from './binding.js';
export {
  type AuditContext,
  cleanContextId,
  getAuditContext,
  MAX_CONTEXT_ID_BYTES,
  runWithAuditContext,
  setAuditActor,
  updateAuditContext,
  validateAuditContext,
} from './context.js';
export { isThreadlineError, ThreadlineError, ThreadlineErrorCode } from './errors.js';
export * from './export/index.js';
export {
  formatTableName,
  parseTableName,
  quoteIdent,
  splitTableList,
  type TableName,
} from './identifiers.js';
export { type MigrationFile, type MigrationFormat, renderMigration } from './migrations.js';
export { changeDiff, type MaskInfo } from './query/change-diff.js';
export type {
  AsOfResult,
  AuditActionInfo,
  AuditChange,
  AuditTransactionInfo,
  ChangeDiff,
  ChangeOp,
  FieldDiff,
  IncidentBundle,
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
export { installScript, SCHEMA_VERSION } from './sql/install-script.js';
export type { SqlClient, SqlResult, SqlSession, TransactionFinish } from './sql-client.js';
export { toSqlClient } from './sql-client.js';
export {
  DEFAULT_MASK_PLACEHOLDER,
  type ResolvedTableOptions,
  resolveTableOptions,
  resolveTablesConfig,
  type TableCaptureOptions,
} from './table-options.js';
export {
  type CapturePlan,
  createThreadline,
  type InstallResult,
  type RecordActionOptions,
  type RecordedAction,
  Threadline,
  type ThreadlineOptions,
  type TransactionResult,
  type TriggerOptions,
} from './threadline.js';
