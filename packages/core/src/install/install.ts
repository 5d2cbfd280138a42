import { quoteIdent, quoteLiteral } from '../capture/identifiers.js';
import type { SqlClient } from '../db/sql-client.js';
import { checkKeys, parseFlag } from '../query/validate.js';
import { type InstallScriptOptions, installScript } from './install-script.js';

export interface InstallResult {
  schema: string;
  schemaVersion: number;
  /** True when the DDL event trigger is installed, so ALTER TABLE regenerates capture in place. */
  ddlSync: boolean;
  /**
   * What install verified but could not repair (install repairs the rest: capture left stale by a
   * restore, compiled capture without its event trigger). Empty when all is well.
   */
  findings: InstallFinding[];
  /** The audit_changes layout after install (SPEC section 10). */
  storage: {
    partition: 'none' | 'day' | 'week' | 'month';
    layout: 'partitioned' | 'unpartitioned';
    /**
     * True when the configured layout asks for partitions and audit_changes is not partitioned yet
     * (an install made before), or rows written before table ids (schema version 7) are not keyed
     * yet: `threadline install --apply` or tl.storage.maintain() converts and keys them.
     */
    migrationPending: boolean;
  };
}

export interface InstallFinding {
  /** `unregistered` (capture triggers the registry does not list, e.g. after a --schema-only
   * restore), `trigger-disabled`, `portable-fallback` (configured options could not be applied), or
   * `audit-writable` (a role other than the owner may write an audit table directly), `unsafe-cast`
   * (a captured table reaches another role's cast to json, which capture would run as the owner). */
  code: string;
  relation: string;
  message: string;
}

export interface UninstallOptions {
  /** Also drop the audit data (audit_changes, audit_transactions, audit_actions). Default false. */
  dropData?: boolean;
  /** Only return the statements; change nothing. Default true. */
  dryRun?: boolean;
}

export interface UninstallResult {
  schema: string;
  applied: boolean;
  dropData: boolean;
  /** The statements, in order (run in one transaction when applied). */
  statements: string[];
  /** Tables whose capture is removed. */
  tables: string[];
}

/** Run the install script, then report the install state and what it could not repair. */
export async function runInstall(
  client: SqlClient,
  schema: string,
  options: InstallScriptOptions = {},
): Promise<InstallResult> {
  const q = quoteIdent(schema);
  await client.exec(installScript(schema, options));
  const { rows } = await client.query<{ version: number; ddl_sync: boolean }>(
    `SELECT version, EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'threadline_sync_' || md5($1) AND evtenabled = 'A') AS ddl_sync FROM ${q}.schema_version`,
    [schema],
  );
  const layout = await client.query<{
    partition: InstallResult['storage']['partition'];
    relkind: string;
    unkeyed: boolean;
  }>(
    `SELECT (SELECT partition FROM ${q}.storage_settings) AS partition,
            (SELECT relkind::text FROM pg_class WHERE oid = to_regclass(format('%I.audit_changes', $1::text))) AS relkind,
            EXISTS (SELECT 1 FROM ${q}.audit_changes WHERE table_id IS NULL) AS unkeyed`,
    [schema],
  );
  const partition = layout.rows[0]!.partition;
  const partitioned = layout.rows[0]!.relkind === 'p';
  const findings = await client.query<InstallFinding>(
    `SELECT code, relation, message FROM ${q}.capture_findings()`,
  );
  return {
    schema,
    schemaVersion: Number(rows[0]?.version),
    ddlSync: rows[0]?.ddl_sync === true,
    findings: findings.rows.map((f) => ({ code: f.code, relation: f.relation, message: f.message })),
    storage: {
      partition,
      layout: partitioned ? 'partitioned' : 'unpartitioned',
      migrationPending: (!partitioned && partition !== 'none') || layout.rows[0]!.unkeyed === true,
    },
  };
}

/** Uninstall: a dry run unless `dryRun: false`; all statements in one implicit transaction. */
export async function runUninstall(
  client: SqlClient,
  schema: string,
  input?: UninstallOptions,
): Promise<UninstallResult> {
  const options = checkKeys(input, ['dropData', 'dryRun'], 'uninstall options', true) as UninstallOptions;
  // Only true or false: a mistyped 'false' or 0 never runs the statements or drops the data.
  const dropData = parseFlag(options.dropData, 'dropData', 'uninstall') ?? false;
  const dryRun = parseFlag(options.dryRun, 'dryRun', 'uninstall') ?? true;
  const { statements, tables } = await uninstallStatements(client, schema, dropData);
  if (!dryRun && statements.length > 0) await client.exec(`${statements.join(';\n')};`);
  return { schema, applied: !dryRun, dropData, statements, tables };
}

/**
 * The statements that remove Threadline: event triggers first (so nothing regenerates), every
 * capture trigger, then the functions and registry; with dropData the whole storage schema.
 * Without dropData the audit tables stay, readable, and a later install continues them.
 */
async function uninstallStatements(
  client: SqlClient,
  schema: string,
  dropData: boolean,
): Promise<{ statements: string[]; tables: string[] }> {
  const q = quoteIdent(schema);
  const lit = quoteLiteral(schema);
  const statements: string[] = [];
  const events = await client.query<{ evtname: string }>(
    `SELECT evtname FROM pg_event_trigger WHERE evtname IN ('threadline_sync_' || md5(${lit}), 'threadline_drop_' || md5(${lit})) ORDER BY evtname`,
  );
  for (const e of events.rows) statements.push(`DROP EVENT TRIGGER IF EXISTS ${quoteIdent(e.evtname)}`);
  const triggers = await client.query<{ tgname: string; rel: string }>(
    `SELECT tg.tgname, format('%I.%I', ns.nspname, cl.relname) AS rel
       FROM pg_trigger tg JOIN pg_proc p ON p.oid = tg.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace
       JOIN pg_class cl ON cl.oid = tg.tgrelid JOIN pg_namespace ns ON ns.oid = cl.relnamespace
      WHERE pn.nspname = ${lit} AND NOT tg.tgisinternal
        AND NOT (ns.nspname = ${lit} AND cl.relname = 'capture_pending') ORDER BY 2, 1`,
  );
  const tables = [...new Set(triggers.rows.map((t) => t.rel))];
  for (const t of triggers.rows)
    statements.push(`DROP TRIGGER IF EXISTS ${quoteIdent(t.tgname)} ON ${t.rel}`);
  if (dropData) {
    statements.push(`DROP SCHEMA IF EXISTS ${q} CASCADE`);
    return { statements, tables };
  }
  // Before the functions: its commit trigger calls one of them.
  statements.push(`DROP TABLE IF EXISTS ${q}.capture_pending`);
  const functions = await client.query<{ sig: string }>(
    `SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS sig
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ${lit} ORDER BY 1`,
  );
  for (const f of functions.rows) statements.push(`DROP FUNCTION IF EXISTS ${f.sig}`);
  for (const t of [
    'captured_tables',
    'capture_truncating',
    'internal_nonce',
    'schema_version',
    'activity_rollup',
    'activity_hours',
    'activity_forgets',
    'activity_state',
  ]) {
    statements.push(`DROP TABLE IF EXISTS ${q}.${t}`);
  }
  return { statements, tables };
}
