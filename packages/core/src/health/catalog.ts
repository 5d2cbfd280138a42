import type { OperationsContext } from '../context/operations-context.js';
import { toThreadlineError } from '../db/db-errors.js';
import { type CachedAuditSequence, readCachedAuditSequences } from './audit-sequences.js';
import { readUnsafeCasts, type UnsafeCast } from './unsafe-casts.js';

/** An ordinary or partitioned table, as the catalogs describe it now. */
export interface RelationInfo {
  oid: string;
  schema: string;
  name: string;
  isPartition: boolean;
  /** The partition tree's root (for a partition), else null. */
  root: string | null;
  /** Primary key columns in key order, or null when there is none. */
  primaryKey: string[] | null;
  /** attnum -> name of the live columns (only read for captured tables). */
  columns: Record<string, string> | null;
  /**
   * The logical-replication subscriptions that write this table without also writing
   * Threadline's audit_changes or one of its partitions (so its history does not arrive from the
   * publisher), with their publications.
   */
  subscriptions: { name: string; publications: string[] }[];
}

export interface TriggerInfo {
  relid: string;
  name: string;
  /** pg_trigger.tgenabled: O (origin), D (disabled), R (replica only), A (always). */
  enabled: string;
  /** pg_trigger.tgtype bits: 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE. */
  type: number;
  functionSchema: string;
  functionName: string;
  /** The trigger has a WHEN condition (capture triggers never have one). */
  conditional?: boolean;
  /** Its transition tables, `old,new` (capture's are threadline_old_rows / threadline_new_rows). */
  transitions?: string;
  /** Extensions it depends on (ALTER TRIGGER ... DEPENDS ON EXTENSION): DROP EXTENSION drops it. */
  extensions?: string[];
}

export interface RegistryInfo {
  relid: string;
  /**
   * The capture function's body still ends with the checksum the generator wrote and matches it
   * (false: edited by hand, or generated before checksums); null when the function is missing.
   */
  functionIntact?: boolean | null;
  /** Extensions the capture function depends on (ALTER FUNCTION ... DEPENDS ON EXTENSION). */
  functionExtensions?: string[] | null;
  schema: string;
  name: string;
  keyColumns: string[];
  columns: Record<string, string>;
  options: { primaryKey?: string[] | null } & Record<string, unknown>;
  functionName: string;
  mode: string;
}

export interface CatalogSnapshot {
  relations: RelationInfo[];
  triggers: TriggerInfo[];
  registry: RegistryInfo[];
  /** Casts to json another role owns that capture of a captured table would run. */
  unsafeCasts?: UnsafeCast[];
  /** The storage schema's audit id sequences caching more than one id (when it is among the schemas checked). */
  cachedSequences?: CachedAuditSequence[];
}

/**
 * The last line of a generated capture function's body (capture-generator.ts): its checksum, as
 * a regular expression whose one group is the md5 of everything before it.
 */
// E'' literals throughout: a plain literal's backslash means something else in a session with
// standard_conforming_strings = off.
const BODY_MARKER = '-- threadline:body-md5 ([0-9a-f]{32})\\\\n';

/**
 * The extensions an object depends on with deptype 'x' (ALTER ... DEPENDS ON EXTENSION): DROP
 * EXTENSION drops such an object with the extension, without CASCADE and without a record.
 */
const extensionsOf = (catalog: string, oid: string) =>
  `ARRAY(SELECT e.extname::text FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
          WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.refclassid = 'pg_extension'::regclass
            AND d.deptype = 'x' ORDER BY 1)`;

/** `null` = every schema with tables. */
const SCHEMA_FILTER = `n.nspname <> $1 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE E'pg\\\\_%' AND ($2::text[] IS NULL OR n.nspname = ANY($2::text[]))`;

/**
 * Read everything the coverage and findings checks need in four catalog queries, whatever the
 * number of tables: no locks, no DDL, no SELECT on user tables.
 */
export async function readCatalog(
  ctx: OperationsContext,
  schemas: readonly string[] | null,
  what: string,
): Promise<CatalogSnapshot> {
  const params = [ctx.schema, schemas];
  try {
    const relations = await ctx.client.query<RelationInfo>(
      `SELECT c.oid::text AS oid, n.nspname AS schema, c.relname AS name, c.relispartition AS "isPartition",
              CASE WHEN c.relispartition THEN pg_partition_root(c.oid)::oid::text END AS root,
              CASE WHEN reg.relid IS NOT NULL OR c.relispartition THEN (
                SELECT array_agg(a.attname::text ORDER BY g.n) FROM pg_index ix
                  CROSS JOIN LATERAL generate_series(0, ix.indnkeyatts - 1) AS g(n)
                  JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ix.indkey[g.n]
                 WHERE ix.indrelid = c.oid AND ix.indisprimary) END AS "primaryKey",
              CASE WHEN reg.relid IS NOT NULL THEN (
                SELECT jsonb_object_agg(a.attnum::text, a.attname::text) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) END AS columns,
              coalesce((SELECT jsonb_agg(jsonb_build_object('name', s.subname::text, 'publications', to_jsonb(s.subpublications)) ORDER BY s.subname)
                 FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid
                WHERE sr.srrelid = c.oid AND NOT EXISTS (
                  SELECT 1 FROM pg_subscription_rel h
                   WHERE h.srsubid = sr.srsubid
                     AND pg_partition_root(h.srrelid) = (SELECT ac.oid FROM pg_class ac JOIN pg_namespace an ON an.oid = ac.relnamespace
                                       WHERE an.nspname = $1 AND ac.relname = 'audit_changes'))), '[]') AS subscriptions
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN ${ctx.q}.captured_tables reg ON reg.relid = c.oid
        WHERE c.relkind IN ('r', 'p') AND ${SCHEMA_FILTER}
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY n.nspname, c.relname`,
      params,
    );
    const triggers = await ctx.client.query<TriggerInfo>(
      `SELECT t.tgrelid::oid::text AS relid, t.tgname::text AS name, t.tgenabled::text AS enabled, t.tgtype::int AS type,
              pn.nspname::text AS "functionSchema", p.proname::text AS "functionName",
              t.tgqual IS NOT NULL AS conditional,
              coalesce(t.tgoldtable::text, '') || ',' || coalesce(t.tgnewtable::text, '') AS transitions,
              ${extensionsOf('pg_trigger', 't.oid')} AS extensions
         FROM pg_trigger t
         JOIN pg_proc p ON p.oid = t.tgfoid
         JOIN pg_namespace pn ON pn.oid = p.pronamespace
         JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND ${SCHEMA_FILTER}
          AND (t.tgname LIKE E'threadline\\\\_%' OR (pn.nspname = $1 AND p.proname LIKE E'capture\\\\_%'))
        ORDER BY t.tgrelid, t.tgname`,
      params,
    );
    const registry = await ctx.client.query<RegistryInfo>(
      // Only the registry rows the checked schemas can involve: their own tables, the roots of
      // their partitions, and the owners of capture functions their triggers call.
      `SELECT ct.relid::oid::text AS relid, ct.table_schema AS schema, ct.table_name AS name, ct.key_columns AS "keyColumns",
              ct.columns, ct.options, ct.function_name AS "functionName", ct.mode,
              (SELECT p.prosrc ~ E'${BODY_MARKER}$'
                      AND md5(regexp_replace(p.prosrc, E'${BODY_MARKER}$', '')) = substring(p.prosrc FROM E'${BODY_MARKER}$')
                 FROM pg_proc p WHERE p.proname = ct.function_name AND p.pronargs = 0
                  AND p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)) AS "functionIntact",
              (SELECT ${extensionsOf('pg_proc', 'p.oid')}
                 FROM pg_proc p WHERE p.proname = ct.function_name AND p.pronargs = 0
                  AND p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)) AS "functionExtensions"
         FROM ${ctx.q}.captured_tables ct
        WHERE $2::text[] IS NULL OR ct.table_schema = ANY($2::text[])
           OR ct.function_name IN (
                SELECT p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                  JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = ANY($2::text[]) AND p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1))
           OR ct.relid::oid IN (
                SELECT pg_partition_root(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relispartition AND n.nspname = ANY($2::text[]))`,
      params,
    );
    const unsafeCasts = await readUnsafeCasts(ctx, schemas, what);
    const cachedSequences =
      schemas === null || schemas.includes(ctx.schema) ? await readCachedAuditSequences(ctx, what) : [];
    return {
      relations: relations.rows,
      triggers: triggers.rows,
      registry: registry.rows,
      unsafeCasts,
      cachedSequences,
    };
  } catch (error) {
    throw toThreadlineError(error, what);
  }
}

/** Names from `wanted` that are not schemas of this database. */
export async function missingSchemas(
  ctx: OperationsContext,
  wanted: readonly string[],
  what: string,
): Promise<string[]> {
  try {
    const { rows } = await ctx.client.query<{ s: string }>(
      'SELECT s FROM unnest($1::text[]) AS s WHERE NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = s)',
      [wanted],
    );
    return rows.map((r) => r.s);
  } catch (error) {
    throw toThreadlineError(error, what);
  }
}
