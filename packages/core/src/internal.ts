/**
 * `@threadline/core/internal`: what Threadline's own packages (the CLI) share with core but
 * applications should not build on. No semver promise: it changes with the CLI. Applications
 * use `@threadline/core`; adapter authors `@threadline/core/adapter`.
 */
export { formatTableName, parseTableName, splitTableList } from './capture/identifiers.js';
export { type ConfiguredTable, resolveTableOptions, resolveTablesConfig } from './capture/table-options.js';
export { resolveTargets } from './capture/trigger-operations.js';
export { installScript, SCHEMA_VERSION } from './install/install-script.js';
export { type MigrationFile, type MigrationFormat, renderMigration } from './install/migrations.js';
export { parseExactJson } from './query/exact-json.js';
export { resolveRetentionPolicy } from './retention/policy.js';
export { resolveStorageConfig } from './storage/config.js';
