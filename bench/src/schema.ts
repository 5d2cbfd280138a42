/**
 * The benchmark's tables and statements. Copies of one posts-like table (the research's shape,
 * ~650 B rows) so that each variant writes to its own table:
 *   posts_plain - no audit;
 *   posts_bound - no audit (a second plain table, for the single-row variant that binds context);
 *   posts_audit - Threadline capture (tl.installTriggers);
 *   posts_floor - no trigger; its statements write the same audit rows themselves with a
 *                 data-modifying CTE into unindexed copies of the audit tables (the floor).
 */

export const TL_SCHEMA = 'threadline';
export const ACTOR_JSON = '{"type": "user", "id": "7"}';

export type TableKind = 'plain' | 'bound' | 'audit' | 'floor';

export const TABLES: Record<TableKind, string> = {
  plain: 'bench.posts_plain',
  bound: 'bench.posts_bound',
  audit: 'bench.posts_audit',
  floor: 'bench.posts_floor',
};

const POSTS_COLUMNS = `
  id bigserial PRIMARY KEY,
  author_id int NOT NULL,
  title text,
  body text,
  status text,
  tags jsonb,
  updated_at timestamptz`;

/** Runs before tl.install(); every table has autovacuum off so it cannot fire mid-run. */
export const SETUP_SQL = `
CREATE SCHEMA bench;
${(['plain', 'bound', 'audit', 'floor'] as const)
  .map(
    (kind) => `CREATE TABLE ${TABLES[kind]} (${POSTS_COLUMNS}
) WITH (autovacuum_enabled = off);
CREATE INDEX posts_${kind}_author_idx ON ${TABLES[kind]} (author_id);`,
  )
  .join('\n')}
-- The floor's audit tables: the columns of threadline.audit_changes / audit_transactions, no index.
CREATE TABLE bench.floor_changes (
  id bigint GENERATED ALWAYS AS IDENTITY,
  transaction_id bigint NOT NULL,
  table_schema text NOT NULL,
  table_name text NOT NULL,
  table_pk jsonb NOT NULL,
  table_pk_before jsonb,
  op text NOT NULL,
  data_after jsonb,
  data_before jsonb,
  changed_fields text[],
  changed_from jsonb,
  captured_at timestamptz NOT NULL
) WITH (autovacuum_enabled = off);
CREATE TABLE bench.floor_transactions (
  id bigint GENERATED ALWAYS AS IDENTITY,
  txid bigint NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor_ref jsonb,
  correlation_id text,
  request_id text,
  job_id text,
  causation_id text,
  source text,
  meta jsonb,
  action_id uuid
) WITH (autovacuum_enabled = off);
`;

/** Runs after tl.install(): the audit tables are truncated before every run, so autovacuum stays off. */
export const AFTER_INSTALL_SQL = `
DO $do$
DECLARE leaf regclass;
BEGIN
  -- A partitioned audit_changes takes no storage parameters: set them on every partition.
  FOR leaf IN SELECT relid FROM pg_partition_tree('${TL_SCHEMA}.audit_changes') WHERE isleaf LOOP
    EXECUTE format('ALTER TABLE %s SET (autovacuum_enabled = off)', leaf);
  END LOOP;
END
$do$;
ALTER TABLE ${TL_SCHEMA}.audit_transactions SET (autovacuum_enabled = off);
`;

/** Every table a run can write to (truncated before each run). */
export const ALL_TABLES = [
  TABLES.plain,
  TABLES.bound,
  TABLES.audit,
  TABLES.floor,
  'bench.floor_changes',
  'bench.floor_transactions',
  `${TL_SCHEMA}.audit_changes`,
  `${TL_SCHEMA}.audit_transactions`,
];

/** n generated rows, all with status 'published' (bulk load and bulk INSERT use the same rows). */
export function generatedRows(n: number): string {
  return `SELECT 1 + g % 1000, 'Post number ' || g, left(repeat(md5(g::text), 16), 500), 'published',
       jsonb_build_array('tag' || g % 10, 'tag' || g % 7), timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second'
  FROM generate_series(1, ${n}) AS g`;
}

export function insertRowsSql(table: string, n: number): string {
  return `INSERT INTO ${table} (author_id, title, body, status, tags, updated_at) ${generatedRows(n)}`;
}

/** The floor's audit_transactions row: one per statement, from the bound context (like capture). */
const FLOOR_TX = `t AS (
  INSERT INTO bench.floor_transactions (txid, actor_ref, correlation_id)
  SELECT txid_current(), nullif(current_setting('threadline.actor_ref', true), '')::jsonb,
         nullif(current_setting('threadline.context', true), '')::jsonb ->> 'correlationId'
  RETURNING txid)`;

function floorChanges(source: string, columns: string, values: string): string {
  return `INSERT INTO bench.floor_changes (transaction_id, table_schema, table_name, op, table_pk, ${columns}, captured_at)
SELECT (SELECT txid FROM t), 'bench', 'posts_floor', ${values}, (SELECT clock_timestamp()) FROM ${source}`;
}

export type BulkOp = 'insert' | 'update' | 'delete';

/** One bulk statement on `kind`'s table. The floor variant writes its audit rows in the same statement. */
export function bulkSql(op: BulkOp, kind: TableKind, rows: number): string {
  const table = TABLES[kind];
  if (kind !== 'floor') {
    if (op === 'insert') return insertRowsSql(table, rows);
    if (op === 'update') return `UPDATE ${table} SET status = 'archived'`;
    return `DELETE FROM ${table}`;
  }
  // The writer knows the diff: every loaded row is 'published' and becomes 'archived'.
  if (op === 'insert') {
    return `WITH x AS (${insertRowsSql(table, rows)} RETURNING *), ${FLOOR_TX}
${floorChanges('x', 'data_after', `'insert', jsonb_build_object('id', x.id), to_jsonb(x)`)}`;
  }
  if (op === 'update') {
    return `WITH x AS (UPDATE ${table} SET status = 'archived' RETURNING *), ${FLOOR_TX}
${floorChanges(
  'x',
  'data_after, changed_fields, changed_from',
  `'update', jsonb_build_object('id', x.id), to_jsonb(x), '{status}'::text[], '{"status": "published"}'::jsonb`,
)}`;
  }
  return `WITH x AS (DELETE FROM ${table} RETURNING *), ${FLOOR_TX}
${floorChanges('x', 'data_before', `'delete', jsonb_build_object('id', x.id), to_jsonb(x)`)}`;
}

export type RowOp = 'insert' | 'update';

/**
 * One single-row statement. INSERT takes ($1 author_id, $2 title, $3 body, $4 tags); UPDATE takes
 * ($1 id) and toggles status between 'published' and 'draft'.
 */
export function rowSql(op: RowOp, kind: TableKind): string {
  const table = TABLES[kind];
  const insert = `INSERT INTO ${table} (author_id, title, body, status, tags, updated_at)
VALUES ($1, $2, $3, 'published', $4::jsonb, now())`;
  const update = `UPDATE ${table} SET status = CASE WHEN status = 'published' THEN 'draft' ELSE 'published' END WHERE id = $1`;
  if (kind !== 'floor') return op === 'insert' ? insert : update;
  if (op === 'insert') {
    return `WITH x AS (${insert} RETURNING *), ${FLOOR_TX}
${floorChanges('x', 'data_after', `'insert', jsonb_build_object('id', x.id), to_jsonb(x)`)}`;
  }
  return `WITH x AS (${update} RETURNING *), ${FLOOR_TX}
${floorChanges(
  'x',
  'data_after, changed_fields, changed_from',
  `'update', jsonb_build_object('id', x.id), to_jsonb(x), '{status}'::text[],
  jsonb_build_object('status', CASE WHEN x.status = 'draft' THEN 'published' ELSE 'draft' END)`,
)}`;
}

/** Parameters of the i-th single-row INSERT (deterministic, ~500-char body like the loaded rows). */
export function insertParams(i: number): unknown[] {
  const seed = `row-${i}-`.padEnd(32, 'x');
  return [
    1 + (i % 1000),
    `Single post ${i}`,
    seed.repeat(16).slice(0, 500),
    JSON.stringify([`tag${i % 10}`, `tag${i % 7}`]),
  ];
}
