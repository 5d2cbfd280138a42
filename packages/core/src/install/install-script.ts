import { CAPTURE_GENERATOR } from '../capture/capture-generator.js';
import { CAPTURE_REFRESH } from '../capture/capture-refresh.js';
import { CAPTURE_VERIFY } from '../capture/capture-verify.js';
import { DDL_SYNC } from '../capture/ddl-sync.js';
import { quoteIdent, quoteLiteral } from '../capture/identifiers.js';
import { PRIVILEGES_DDL } from '../capture/privileges.js';
import { EXPORT_DDL } from '../export/export-ddl.js';
import { INTEGRITY_DDL } from '../integrity/integrity-ddl.js';
import { QUERY_FUNCTIONS } from '../query/query-functions.js';
import { RETENTION_DDL } from '../retention/retention-ddl.js';
import { RUNTIME_FUNCTIONS } from './runtime-functions.js';
import { STORAGE_DDL } from './storage-ddl.js';

/** Bumped whenever the install script changes what it creates. */
export const SCHEMA_VERSION = 3;

/** Substitute the storage schema into a SQL template (`@S` quoted identifier, `@LIT` literal). */
function renderSql(template: string, schema: string): string {
  return template.replaceAll('@LIT', quoteLiteral(schema)).replaceAll('@S', quoteIdent(schema));
}

/**
 * The whole, idempotent install script: storage tables and indexes, runtime functions, the
 * capture generator and the DDL sync event triggers. Runs inside the caller's transaction.
 */
export function installScript(schema: string): string {
  const body = [
    "SELECT pg_advisory_xact_lock(hashtext('threadline.install:' || @LIT));",
    STORAGE_DDL,
    RETENTION_DDL,
    EXPORT_DDL,
    INTEGRITY_DDL,
    RUNTIME_FUNCTIONS,
    CAPTURE_GENERATOR,
    CAPTURE_REFRESH,
    CAPTURE_VERIFY,
    QUERY_FUNCTIONS,
    DDL_SYNC,
    PRIVILEGES_DDL,
    `INSERT INTO @S.schema_version (singleton, version) VALUES (true, ${SCHEMA_VERSION})
  ON CONFLICT (singleton) DO UPDATE SET version = GREATEST(@S.schema_version.version, EXCLUDED.version), installed_at = now();`,
    'SELECT @S.capture_repair_all();',
  ].join('\n');
  return renderSql(body, schema);
}
