import { CAPTURE_DEFERRED } from '../capture/capture-deferred.js';
import { CAPTURE_GENERATOR } from '../capture/capture-generator.js';
import { CAPTURE_REFRESH } from '../capture/capture-refresh.js';
import { CAPTURE_VERIFY } from '../capture/capture-verify.js';
import { DDL_SYNC } from '../capture/ddl-sync.js';
import { quoteIdent, quoteLiteral } from '../capture/identifiers.js';
import { PRIVILEGES_DDL } from '../capture/privileges.js';
import { ThreadlineError } from '../errors.js';
import { EXPORT_DDL } from '../export/export-ddl.js';
import { INTEGRITY_DDL } from '../integrity/integrity-ddl.js';
import { ACTIVITY_DDL } from '../query/activity-ddl.js';
import { QUERY_FUNCTIONS } from '../query/query-functions.js';
import { RETENTION_DDL } from '../retention/retention-ddl.js';
import { KEY_BACKFILL } from '../storage/key-backfill.js';
import { PARTITION_DDL } from '../storage/partition-ddl.js';
import { STORAGE_CONVERT } from '../storage/storage-convert.js';
import { CONTEXT_FUNCTIONS } from './context-functions.js';
import { RECORD_ACTION_FUNCTION } from './record-action-function.js';
import { RUNTIME_FUNCTIONS } from './runtime-functions.js';
import { STORAGE_DDL } from './storage-ddl.js';
import { TRUNCATE_FUNCTIONS } from './truncate-functions.js';

/** Bumped whenever the install script changes what it creates. */
export const SCHEMA_VERSION = 10;

/** How audit_changes is partitioned by captured_at (SPEC section 10). */
export type PartitionUnit = 'none' | 'day' | 'week' | 'month';
export const PARTITION_UNITS: readonly PartitionUnit[] = ['none', 'day', 'week', 'month'];
/** The default, chosen by measurement (docs/operations.md#storage). */
export const DEFAULT_PARTITION: PartitionUnit = 'month';

export interface InstallScriptOptions {
  partition?: PartitionUnit;
}

/**
 * Substitute the storage schema into a SQL template (`@S` quoted identifier, `@LIT` literal,
 * `@RELLIT(name)` the literal of the qualified relation name, for a constant `::regclass`).
 */
function renderSql(template: string, schema: string): string {
  // One pass: a placeholder-like text inside a substituted value (a schema named `tl@Sx`) stays as is.
  return template.replace(/@RELLIT\(([a-z_]+)\)|@LIT|@S/g, (match: string, name: string | undefined) => {
    if (name !== undefined) return quoteLiteral(`${quoteIdent(schema)}.${name}`);
    return match === '@LIT' ? quoteLiteral(schema) : quoteIdent(schema);
  });
}

/**
 * The whole, idempotent install script: storage tables and indexes, runtime functions, the
 * capture generator and the DDL sync event triggers. Runs inside the caller's transaction.
 */
export function installScript(schema: string, options: InstallScriptOptions = {}): string {
  const partition = options.partition ?? DEFAULT_PARTITION;
  if (!PARTITION_UNITS.includes(partition)) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `storage.partition must be one of ${PARTITION_UNITS.join(', ')}, got ${JSON.stringify(partition)}`,
    );
  }
  const body = [
    "SELECT pg_advisory_xact_lock(hashtext('threadline.install:' || @LIT));",
    STORAGE_DDL.replace('@PARTITION', quoteLiteral(partition)),
    PARTITION_DDL,
    ACTIVITY_DDL,
    STORAGE_CONVERT,
    KEY_BACKFILL,
    // Partitions ahead; a period whose rows still sit in the default partition is left to maintain.
    'SELECT @S.storage_ensure(false);',
    RETENTION_DDL,
    EXPORT_DDL,
    INTEGRITY_DDL,
    CONTEXT_FUNCTIONS,
    RUNTIME_FUNCTIONS,
    RECORD_ACTION_FUNCTION,
    TRUNCATE_FUNCTIONS,
    CAPTURE_GENERATOR,
    CAPTURE_REFRESH,
    CAPTURE_DEFERRED,
    QUERY_FUNCTIONS,
    DDL_SYNC,
    PRIVILEGES_DDL,
    // After PRIVILEGES_DDL: capture_findings() reads capture_unsafe_casts().
    CAPTURE_VERIFY,
    `INSERT INTO @S.schema_version (singleton, version) VALUES (true, ${SCHEMA_VERSION})
  ON CONFLICT (singleton) DO UPDATE SET version = GREATEST(@S.schema_version.version, EXCLUDED.version), installed_at = now();`,
    'SELECT @S.capture_repair_all();',
    'SELECT @S.storage_key_capture();',
    // Last: its ACCESS EXCLUSIVE lock on audit_changes (if it drops) is held only until commit.
    'SELECT @S.storage_legacy_drop();',
  ].join('\n');
  return renderSql(body, schema);
}
