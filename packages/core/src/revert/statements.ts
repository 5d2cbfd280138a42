import { quoteIdent } from '../capture/identifiers.js';
import type { TableMeta } from './tables.js';

/**
 * Compensating statements. Values are never part of the SQL text: each statement reads the
 * stored jsonb (bound as $1) through jsonb_populate_record(NULL::table, ...), so every value is
 * converted by its column's own type, exactly as PostgreSQL rendered it with to_jsonb.
 */
const keyMatch = (meta: TableMeta, row: string, key: string) =>
  meta.keyColumns.map((c) => `${row}.${quoteIdent(c)} = ${key}.${quoteIdent(c)}`).join(' AND ');

const record = (meta: TableMeta, value: string) => `jsonb_populate_record(NULL::${meta.ref}, ${value})`;

const columnList = (columns: string[], alias?: string) =>
  columns.map((c) => (alias ? `${alias}.${quoteIdent(c)}` : quoteIdent(c))).join(', ');

const assignments = (columns: string[]) =>
  columns.map((c) => `${quoteIdent(c)} = s.${quoteIdent(c)}`).join(', ');

/** One row: `$1` is the key. */
export const deleteOne = (meta: TableMeta) =>
  `DELETE FROM ${meta.ref} AS t USING ${record(meta, '$1::jsonb')} AS k WHERE ${keyMatch(meta, 't', 'k')}`;

/** One row: `$1` is the row. OVERRIDING SYSTEM VALUE puts back identity values as they were. */
export const insertOne = (meta: TableMeta, columns: string[]) =>
  `INSERT INTO ${meta.ref} (${columnList(columns)}) OVERRIDING SYSTEM VALUE SELECT ${columnList(columns, 'r')} FROM ${record(meta, '$1::jsonb')} AS r`;

/** One row: `$1` the old values, `$2` the key the row has now. */
export const updateOne = (meta: TableMeta, columns: string[]) =>
  `UPDATE ${meta.ref} AS t SET ${assignments(columns)} FROM ${record(meta, '$1::jsonb')} AS s, ${record(meta, '$2::jsonb')} AS k WHERE ${keyMatch(meta, 't', 'k')}`;

/** Many rows: `$1` a JSON array of keys. */
export const deleteMany = (meta: TableMeta) =>
  `DELETE FROM ${meta.ref} AS t USING jsonb_populate_recordset(NULL::${meta.ref}, $1::jsonb) AS k WHERE ${keyMatch(meta, 't', 'k')}`;

/** Many rows: `$1` a JSON array of rows. */
export const insertMany = (meta: TableMeta, columns: string[]) =>
  `INSERT INTO ${meta.ref} (${columnList(columns)}) OVERRIDING SYSTEM VALUE SELECT ${columnList(columns, 'r')} FROM jsonb_populate_recordset(NULL::${meta.ref}, $1::jsonb) AS r`;

/** Many rows: `$1` a JSON array of `{ "s": old values, "k": key now }`. */
export const updateMany = (meta: TableMeta, columns: string[]) =>
  `UPDATE ${meta.ref} AS t SET ${assignments(columns)} FROM jsonb_array_elements($1::jsonb) AS e(x)
    CROSS JOIN LATERAL ${record(meta, "e.x -> 's'")} AS s CROSS JOIN LATERAL ${record(meta, "e.x -> 'k'")} AS k
    WHERE ${keyMatch(meta, 't', 'k')}`;

/**
 * Many rows whose key columns the update does not set: `$1` a JSON array of rows, each the old
 * values with the key the row has now (one record per element, read by one recordset call).
 */
export const updateManyByKey = (meta: TableMeta, columns: string[]) =>
  `UPDATE ${meta.ref} AS t SET ${assignments(columns)} FROM jsonb_populate_recordset(NULL::${meta.ref}, $1::jsonb) AS s
    WHERE ${keyMatch(meta, 't', 's')}`;

/** Which rows of a group's re-check do not match (shared by both forms below). */
const mismatch = (
  meta: TableMeta,
  insert: string,
  ignored: string,
) => `CASE WHEN ${insert} THEN r.i IS NOT NULL
               ELSE r.i IS NULL OR NOT (jsonb_typeof(e.v) = 'object' AND (
                      (r.j - ${ignored}) = (e.v - ${ignored})
                      OR NOT EXISTS (SELECT 1 FROM jsonb_each(e.v) AS d
                                      WHERE NOT d.key = ANY(${ignored}) AND r.j ? d.key AND (r.j -> d.key) IS DISTINCT FROM d.value
                                        AND (r.j -> d.key) IS DISTINCT FROM (to_jsonb(${record(meta, 'e.v')}) -> d.key)))) END`;

/**
 * Lock the rows a group will write and return those that do not match the plan. `$1`: JSON array
 * of keys; `$2`: JSON array of the expected rows (or nulls), in the same order; `$3`: columns not
 * compared (excluded, masked, exceptColumns); `$4`: the group inserts (then a row that exists is
 * the problem). Returns `i` (1-based) and whether the row was found. A row equal to the expected
 * one as a whole (the common case) is not compared column by column; column by column, a column
 * the table no longer has is not compared, and a stored value is compared as its column's type
 * reads it (so text written under other session settings, e.g. an older capture's IntervalStyle,
 * still matches). The keys are read by one recordset call joined to the table (about half the
 * cost of a record call and a locking subquery per key); its WITH ORDINALITY column is named
 * `ordinality`, so a table with a column of that name uses lockAndCompareEach.
 */
export const lockAndCompare = (meta: TableMeta) =>
  `WITH r AS MATERIALIZED (SELECT k.ordinality AS i, to_jsonb(t.*) AS j
                           FROM jsonb_populate_recordset(NULL::${meta.ref}, $1::jsonb) WITH ORDINALITY AS k
                           JOIN ${meta.ref} AS t ON ${keyMatch(meta, 't', 'k')} FOR UPDATE OF t)
   SELECT e.i::int AS i, r.i IS NOT NULL AS found
     FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(v, i) LEFT JOIN r ON r.i = e.i
    WHERE ${mismatch(meta, '$4::boolean', '$3::text[]')}
    ORDER BY e.i`;

/** lockAndCompare with one record call and locking subquery per key, for any column names. */
export const lockAndCompareEach = (meta: TableMeta) =>
  `WITH e AS MATERIALIZED (SELECT e.i::int AS i, e.x AS k, v.x AS v FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(x, i)
                            JOIN jsonb_array_elements($2::jsonb) WITH ORDINALITY AS v(x, i) ON v.i = e.i),
        r AS MATERIALIZED (SELECT e.i, to_jsonb(l.*) AS j FROM e
                             CROSS JOIN LATERAL (SELECT t.* FROM ${meta.ref} AS t, ${record(meta, 'e.k')} AS k
                                                  WHERE ${keyMatch(meta, 't', 'k')} FOR UPDATE OF t) AS l)
   SELECT e.i, r.i IS NOT NULL AS found FROM e LEFT JOIN r ON r.i = e.i
    WHERE ${mismatch(meta, '$4::boolean', '$3::text[]')}
    ORDER BY e.i`;
