/**
 * A column's SQL type name for a column definition list (`jsonb_to_record(...) AS r(col type)`),
 * from `pg_attribute a`, its `pg_type ty` and the type's `pg_namespace ns`: format_type for built-in
 * types and types with a modifier (`numeric(10,2)`), else `"schema"."type"`, so that the name does
 * not depend on the search_path of the statement that uses it.
 */
export const COLUMN_TYPE_SQL = `CASE WHEN ns.nspname = 'pg_catalog' OR a.atttypmod <> -1 THEN format_type(a.atttypid, a.atttypmod)
       ELSE format('%I.%I', ns.nspname, ty.typname) END`;
