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
 * Lock the rows a group will write and return those that do not match the plan. `$1`: JSON array
 * of `{ "k": key, "v": expected row or null }`; `$2`: columns not compared (excluded, masked,
 * exceptColumns); `$3`: the group inserts (then a row that exists is the problem). Returns `i`
 * (1-based) and whether the row was found. A row equal to the expected one as a whole (the common
 * case) is not compared column by column; column by column, a column the table no longer has is
 * not compared, and a stored value is compared as its column's type reads it (so text written
 * under other session settings, e.g. an older capture's IntervalStyle, still matches).
 */
export const lockAndCompare = (meta: TableMeta) =>
  `WITH e AS MATERIALIZED (SELECT e.i::int AS i, e.x -> 'k' AS k, e.x -> 'v' AS v FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(x, i)),
        r AS MATERIALIZED (SELECT e.i, to_jsonb(l) AS j FROM e
                             CROSS JOIN LATERAL (SELECT t.* FROM ${meta.ref} AS t, ${record(meta, 'e.k')} AS k
                                                  WHERE ${keyMatch(meta, 't', 'k')} FOR UPDATE OF t) AS l)
   SELECT e.i, r.i IS NOT NULL AS found FROM e LEFT JOIN r ON r.i = e.i
    WHERE CASE WHEN $3::boolean THEN r.i IS NOT NULL
               ELSE r.i IS NULL OR NOT (jsonb_typeof(e.v) = 'object' AND (
                      (r.j - $2::text[]) = (e.v - $2::text[])
                      OR NOT EXISTS (SELECT 1 FROM jsonb_each(e.v) AS d
                                      WHERE NOT d.key = ANY($2::text[]) AND r.j ? d.key AND (r.j -> d.key) IS DISTINCT FROM d.value
                                        AND (r.j -> d.key) IS DISTINCT FROM (to_jsonb(${record(meta, 'e.v')}) -> d.key)))) END
    ORDER BY e.i`;
