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
 * Lock the rows a batch will write and say which exist and which still look as the reverted
 * changes left them. `$1`: JSON array of `{ "k": key, "v": expected row or null }`; `$2`: columns
 * not compared (excluded, masked, exceptColumns). Returns one row per existing row.
 */
export const lockAndCompare = (meta: TableMeta) =>
  `SELECT e.i::int AS i, (jsonb_typeof(e.x -> 'v') = 'object' AND NOT EXISTS (
      SELECT 1 FROM jsonb_each(e.x -> 'v') AS d WHERE NOT d.key = ANY($2::text[]) AND (to_jsonb(r) -> d.key) IS DISTINCT FROM d.value)) AS same
    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(x, i)
    CROSS JOIN LATERAL (SELECT t.* FROM ${meta.ref} AS t, ${record(meta, "e.x -> 'k'")} AS k
                         WHERE ${keyMatch(meta, 't', 'k')} FOR UPDATE OF t) AS r`;
