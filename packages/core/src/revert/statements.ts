import { quoteIdent } from '../capture/identifiers.js';
import type { TableMeta } from './tables.js';

/**
 * Compensating statements. Values are never part of the SQL text: each statement reads the
 * stored jsonb (bound as $1) through jsonb_to_record(set) with a column definition list of the
 * columns it uses, each with its column's type, so every value is converted by its column's own
 * type, exactly as PostgreSQL rendered it with to_jsonb (the same conversion as
 * jsonb_populate_record(NULL::table, ...), which would also read every other column as NULL, and a
 * NOT NULL domain column refuses that).
 */
const keyMatch = (meta: TableMeta, row: string, key: string) =>
  meta.keyColumns.map((c) => `${row}.${quoteIdent(c)} = ${key}.${quoteIdent(c)}`).join(' AND ');

/** `"c" type, ...`: a column the table no longer has reads as text (the statement then fails on it, as before). */
const definitions = (meta: TableMeta, columns: string[]) =>
  columns.map((c) => `${quoteIdent(c)} ${meta.types.get(c) ?? 'text'}`).join(', ');

/** One object (`value`) read as the record `alias` with `columns`. */
const record = (meta: TableMeta, value: string, alias: string, columns: string[]) =>
  `jsonb_to_record(${value}) AS ${alias}(${definitions(meta, columns)})`;

/**
 * A JSON array (`$1`) of objects read as the records `alias` with `columns`. Read as `json`, not
 * `jsonb`: one pass over the text, about half the cost of building the jsonb first (apply's
 * batches), with the same values: each element is an object apply wrote from stored jsonb text
 * (no duplicate keys, every value in jsonb's own rendering), so a json or jsonb column receives
 * the same text either way.
 */
const recordset = (meta: TableMeta, alias: string, columns: string[]) =>
  `json_to_recordset($1::json) AS ${alias}(${definitions(meta, columns)})`;

/** One object (`value`, json) read as the record `alias` with `columns` (recordset's json reading). */
const jsonRecord = (meta: TableMeta, value: string, alias: string, columns: string[]) =>
  `json_to_record(${value}) AS ${alias}(${definitions(meta, columns)})`;

const columnList = (columns: string[], alias?: string) =>
  columns.map((c) => (alias ? `${alias}.${quoteIdent(c)}` : quoteIdent(c))).join(', ');

const assignments = (columns: string[]) =>
  columns.map((c) => `${quoteIdent(c)} = s.${quoteIdent(c)}`).join(', ');

/** One row: `$1` is the key. */
export const deleteOne = (meta: TableMeta) =>
  `DELETE FROM ${meta.ref} AS t USING ${record(meta, '$1::jsonb', 'k', meta.keyColumns)} WHERE ${keyMatch(meta, 't', 'k')}`;

/** One row: `$1` is the row. OVERRIDING SYSTEM VALUE puts back identity values as they were. */
export const insertOne = (meta: TableMeta, columns: string[]) =>
  `INSERT INTO ${meta.ref} (${columnList(columns)}) OVERRIDING SYSTEM VALUE SELECT ${columnList(columns, 'r')} FROM ${record(meta, '$1::jsonb', 'r', columns)}`;

/** One row: `$1` the old values, `$2` the key the row has now. */
export const updateOne = (meta: TableMeta, columns: string[]) =>
  `UPDATE ${meta.ref} AS t SET ${assignments(columns)} FROM ${record(meta, '$1::jsonb', 's', columns)}, ${record(meta, '$2::jsonb', 'k', meta.keyColumns)} WHERE ${keyMatch(meta, 't', 'k')}`;

/** Many rows: `$1` a JSON array of keys. */
export const deleteMany = (meta: TableMeta) =>
  `DELETE FROM ${meta.ref} AS t USING ${recordset(meta, 'k', meta.keyColumns)} WHERE ${keyMatch(meta, 't', 'k')}`;

/** Many rows: `$1` a JSON array of rows. */
export const insertMany = (meta: TableMeta, columns: string[]) =>
  `INSERT INTO ${meta.ref} (${columnList(columns)}) OVERRIDING SYSTEM VALUE SELECT ${columnList(columns, 'r')} FROM ${recordset(meta, 'r', columns)}`;

/** Many rows: `$1` a JSON array of `{ "s": old values, "k": key now }`. */
export const updateMany = (meta: TableMeta, columns: string[]) =>
  `UPDATE ${meta.ref} AS t SET ${assignments(columns)} FROM json_array_elements($1::json) AS e(x)
    CROSS JOIN LATERAL ${jsonRecord(meta, "e.x -> 's'", 's', columns)} CROSS JOIN LATERAL ${jsonRecord(meta, "e.x -> 'k'", 'k', meta.keyColumns)}
    WHERE ${keyMatch(meta, 't', 'k')}`;

/**
 * Many rows whose key columns the update does not set: `$1` a JSON array of rows, each the old
 * values with the key the row has now (one record per element, read by one recordset call).
 */
export const updateManyByKey = (meta: TableMeta, columns: string[]) =>
  `UPDATE ${meta.ref} AS t SET ${assignments(columns)} FROM ${recordset(meta, 's', [...columns, ...meta.keyColumns])}
    WHERE ${keyMatch(meta, 't', 's')}`;

/**
 * Which rows of a group's re-check do not match (shared by both forms below). `v` is the expected
 * row (jsonb); `same`, when true, says the row as it is now is exactly the expected text (the
 * common case, decided without building the expected jsonb). Column by column, the expected row is
 * read as the table's row type over the row as it is now (`r.j ||`), so a column the expected row
 * lacks (excluded, added since) is not read as NULL (a NOT NULL domain refuses it).
 */
const mismatch = (meta: TableMeta, insert: string, ignored: string, v: string, same = 'false') =>
  `CASE WHEN ${insert} THEN r.i IS NOT NULL
        WHEN r.i IS NULL THEN true
        WHEN ${same} THEN false
        ELSE NOT (jsonb_typeof(${v}) = 'object' AND (
               (r.j - ${ignored}) = (${v} - ${ignored})
               OR NOT EXISTS (SELECT 1 FROM jsonb_each(${v}) AS d
                               WHERE NOT d.key = ANY(${ignored}) AND r.j ? d.key AND (r.j -> d.key) IS DISTINCT FROM d.value
                                 AND (r.j -> d.key) IS DISTINCT FROM (to_jsonb(jsonb_populate_record(NULL::${meta.ref}, r.j || (${v} - ${ignored}))) -> d.key)))) END`;

/**
 * Lock the rows a group will write and return those that do not match the plan. `$1`: JSON array
 * of keys; `$2`: JSON array of the expected rows (or nulls), in the same order; `$3`: columns not
 * compared (excluded, masked, exceptColumns); `$4`: the group inserts (then a row that exists is
 * the problem). Returns `i` (1-based) and whether the row was found. A row whose text is the
 * expected text (the common case: both are PostgreSQL's jsonb rendering, and `json` keeps each
 * element's text as given) is neither parsed nor compared column by column; column by column, a column
 * the table no longer has is not compared, and a stored value is compared as its column's type
 * reads it (so text written under other session settings, e.g. an older capture's IntervalStyle,
 * still matches). The keys are read by one recordset call joined to the table (about half the
 * cost of a record call and a locking subquery per key); its WITH ORDINALITY column is named
 * `ordinality` next to the key columns, so a table with a column of that name uses
 * lockAndCompareEach (apply takes it for any column of that name).
 */
export const lockAndCompare = (meta: TableMeta) =>
  `WITH r AS MATERIALIZED (SELECT k.ordinality AS i, to_jsonb(t.*) AS j
                           FROM ROWS FROM (json_to_recordset($1::json) AS (${definitions(meta, meta.keyColumns)})) WITH ORDINALITY AS k
                           JOIN ${meta.ref} AS t ON ${keyMatch(meta, 't', 'k')} FOR UPDATE OF t)
   SELECT e.i::int AS i, r.i IS NOT NULL AS found
     FROM json_array_elements($2::json) WITH ORDINALITY AS e(x, i) LEFT JOIN r ON r.i = e.i
    WHERE ${mismatch(meta, '$4::boolean', '$3::text[]', '(e.x::jsonb)', 'r.j::text = e.x::text')}
    ORDER BY e.i`;

/** lockAndCompare with one record call and locking subquery per key, for any column names. */
export const lockAndCompareEach = (meta: TableMeta) =>
  `WITH e AS MATERIALIZED (SELECT e.i::int AS i, e.x AS k, v.x AS v FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(x, i)
                            JOIN jsonb_array_elements($2::jsonb) WITH ORDINALITY AS v(x, i) ON v.i = e.i),
        r AS MATERIALIZED (SELECT e.i, to_jsonb(l.*) AS j FROM e
                             CROSS JOIN LATERAL (SELECT t.* FROM ${meta.ref} AS t, ${record(meta, 'e.k', 'k', meta.keyColumns)}
                                                  WHERE ${keyMatch(meta, 't', 'k')} FOR UPDATE OF t) AS l)
   SELECT e.i, r.i IS NOT NULL AS found FROM e LEFT JOIN r ON r.i = e.i
    WHERE ${mismatch(meta, '$4::boolean', '$3::text[]', 'e.v')}
    ORDER BY e.i`;
