/**
 * How queries select the changes of one table (schema version 7, docs/operations.md#index-keys):
 * by table id (audit_changes.table_id, kept across renames and schema moves) and, for a row, by
 * key hash (key_hash = jsonb_hash_extended(table_pk, 0)) with the full key rechecked, so a hash
 * collision never returns another row's change. Rows written before table ids, until storage
 * maintain has keyed them, are found by name through the partial legacy indexes
 * (`WHERE table_id IS NULL`), which exist only while such rows may (storage/legacy-indexes.ts).
 * Without them the legacy arm is still answered through an index: `c.table_id IS NULL` is a range
 * of the compact indexes (they lead with table_id), empty then, so no flag is needed to leave the
 * arm out and no answer depends on whether the legacy indexes exist.
 */
export interface TableScope {
  /** SQL of an integer[]: the table ids this filter stands for. */
  ids: string;
  /** SQL condition on `c` selecting unkeyed (legacy) rows of the filter, by name. */
  legacy: string;
  /** An extra condition on keyed rows (which of an id's changes the filter stands for). */
  keyed?: string;
}

/**
 * The scope of a table given by name: `s` and `n` are SQL expressions (parameters) of text. Of the
 * ids table_ids() gives, the captured table that has the name now contributes every change (also
 * those recorded under its former names); any other (a table no longer captured that once had the
 * name) only the changes recorded under this name, so dropping a table that was renamed away
 * never changes what the name answers.
 */
export function tableScope(q: string, s: string, n: string): TableScope {
  const named = `c.table_schema = ${s} COLLATE "C" AND c.table_name = ${n} COLLATE "C"`;
  return {
    // Scalar subqueries: computed once per statement (an initplan), not once per row.
    ids: `(SELECT ${q}.table_ids(${s}, ${n}))::integer[]`,
    keyed: `(c.table_id = (SELECT tl_ct.table_id FROM ${q}.captured_tables tl_ct
                            WHERE tl_ct.table_schema = ${s} AND tl_ct.table_name = ${n}) OR (${named}))`,
    legacy: named,
  };
}

/**
 * The changes of one table id `id` (SQL integer), whatever name they were recorded under, plus
 * rows recorded before table ids under the name `s`.`n`: unlike tableScope, never the changes of a
 * dropped table that once had the name.
 */
export function tableIdScope(id: string, s: string, n: string): TableScope {
  return {
    ids: `ARRAY[${id}]::integer[]`,
    legacy: `c.table_schema = ${s} COLLATE "C" AND c.table_name = ${n} COLLATE "C"`,
  };
}

/** Every table recorded in schema `s` (the changes whose table_schema is `s`). */
export function schemaScope(q: string, s: string): TableScope {
  return {
    keyed: `c.table_schema = ${s} COLLATE "C"`,
    ids: `ARRAY(SELECT DISTINCT tn.table_id FROM ${q}.audit_table_names tn WHERE tn.table_schema = ${s} COLLATE "C")::integer[]`,
    legacy: `c.table_schema = ${s} COLLATE "C"`,
  };
}

/** The changes of the row with canonical key `key` (SQL jsonb) in the scope: by hash, key rechecked. */
export function keyCondition(scope: TableScope, key: string): string {
  return `((c.table_id = ANY(${scope.ids})${keyedAnd(scope)} AND c.key_hash = ${keyHash(key)} AND c.table_pk = ${key})
    OR (c.table_id IS NULL AND ${scope.legacy} AND c.table_pk = ${key}))`;
}

/** The changes that moved the row with key `key` (SQL jsonb) away from it (key before), in the scope. */
export function keyBeforeCondition(scope: TableScope, key: string): string {
  return `((c.table_id = ANY(${scope.ids})${keyedAnd(scope)} AND c.table_pk_before = ${key})
    OR (c.table_id IS NULL AND ${scope.legacy} AND c.table_pk_before = ${key}))`;
}

/** The changes of the rows with any of `keys` (SQL jsonb[]) as key or key before, in the scope. */
export function keysCondition(scope: TableScope, keys: string): string {
  const either = `(c.table_pk = ANY(${keys}) OR c.table_pk_before = ANY(${keys}))`;
  return `((c.table_id = ANY(${scope.ids})${keyedAnd(scope)} AND ((c.key_hash = ANY(ARRAY(SELECT ${keyHash('tl_key')} FROM unnest(${keys}) tl_key))
             AND c.table_pk = ANY(${keys})) OR c.table_pk_before = ANY(${keys})))
    OR (c.table_id IS NULL AND ${scope.legacy} AND ${either}))`;
}

/** One condition on `c` (for filters applied along another index, e.g. a transaction's changes). */
export function scopeCondition(scope: TableScope): string {
  return `((c.table_id = ANY(${scope.ids})${keyedAnd(scope)}) OR (c.table_id IS NULL AND ${scope.legacy}))`;
}

const keyedAnd = (scope: TableScope) => (scope.keyed ? ` AND ${scope.keyed}` : '');

interface ScopeRows {
  /** Columns selected from `c`. */
  select: string;
  /** Extra conditions on keyed rows (e.g. the key hash) and on every row. */
  keyed?: string[];
  where?: string[];
  /** e.g. `c.captured_at DESC, c.id DESC` */
  order: string;
  limit: string;
}

/**
 * The first `limit` changes in `order` of the scope, as a FROM item body (alias it): per table id
 * one ordered index scan with its own LIMIT, plus one over the legacy rows; the caller orders and
 * limits the union again.
 */
export function scopeRows(q: string, scope: TableScope, r: ScopeRows): string {
  const all = r.where ?? [];
  const keyed = [...(scope.keyed ? [scope.keyed] : []), ...(r.keyed ?? []), ...all]
    .map((w) => ` AND ${w}`)
    .join('');
  const legacy = all.map((w) => ` AND ${w}`).join('');
  return `SELECT tl_k.* FROM unnest(${scope.ids}) AS tl_tid(id) CROSS JOIN LATERAL (
      SELECT ${r.select} FROM ${q}.audit_changes c WHERE c.table_id = tl_tid.id${keyed}
      ORDER BY ${r.order} LIMIT ${r.limit}) tl_k
    UNION ALL (SELECT ${r.select} FROM ${q}.audit_changes c WHERE c.table_id IS NULL AND ${scope.legacy}${legacy}
      ORDER BY ${r.order} LIMIT ${r.limit})`;
}

/** The key hash of a canonical key (SQL jsonb expression), as capture stores it. */
export const keyHash = (key: string) => `jsonb_hash_extended(${key}, 0)`;
