import { isoSql } from '../query/rows.js';
import { keyHash, type TableScope } from '../query/table-scope.js';
import { idParam, type LaterChange, revertScope } from './conflicts.js';
import { ImageRows } from './image-rows.js';
import type { Run } from './load.js';
import type { NetStep, Unknown } from './net.js';
import type { TableMeta } from './tables.js';

/**
 * The steps of one table's rows that have exactly one reverted change (a bulk statement's rows),
 * computed in one statement from audit_changes, with the first later change of each (the
 * changed_since / key_changed conflict), newest change first. The same rules as `net.ts` applies
 * to a row's single change, written in SQL: PostgreSQL cuts each stored image down to the columns
 * the step writes, so JavaScript only reads the results. Rows with several changes (and their
 * key chains) are returned as change ids for `net.ts`.
 *
 * Parameters: $1 schema, $2 name, $3 reverted audit transactions, $4 writable columns,
 * $5 excluded, $6 masked, $7 key columns, $8 writable and stored (writable - excluded - masked),
 * $9 / $10 the not-stored columns of a re-inserted row without / with a delete snapshot, $11 also
 * list every table the transactions changed (rows of op 'table', first), $12 every column the
 * table has now (a changed column it no longer has is a 'dropped' not-stored column), $13 / $14
 * the table's name now (its later changes are found by table id: $1 / $2 is the name the
 * reverted changes were recorded under, which may belong to another table since, resolve.ts),
 * $15 the table id of the reverted changes when they have one (conflicts.ts revertScope).
 */
const hidden = (x: string) =>
  // Portable-mode capture stores {"threadline": "hidden: ..."} instead of an image (net.ts `stored`).
  `(${x} ? 'threadline' AND ${x} - 'threadline' = '{}'::jsonb AND NOT 'threadline' = ANY($4::text[]))`;

/** `x` without the keys that are not in `keep` (a text[] expression). */
const only = (x: string, keep: string) => `(${x} - ARRAY(SELECT jsonb_object_keys(${x} - ${keep})))`;

/** `only` for a column: the column itself when it has no other key (the common case, a third of the cost). */
const onlyColumn = (column: string, keep: string) =>
  `(CASE WHEN (${column} - ${keep}) = '{}'::jsonb THEN ${column} ELSE ${only(column, keep)} END)`;

const setStepsSql = (q: string, scope: TableScope) => `
WITH ch AS MATERIALIZED (
  -- Read by transaction (OFFSET 0 keeps the table condition out of the scan: on statistics not
  -- yet refreshed after the bulk write, the planner walks the table's whole history instead).
  SELECT c.id, c.table_schema, c.table_name, c.op, c.table_pk, c.key_hash, c.table_pk_before, c.data_after,
         c.data_before, c.changed_fields, c.changed_from, c.captured_at
    FROM (SELECT * FROM ${q}.audit_changes x WHERE x.transaction_id = ANY($3::bigint[]) OFFSET 0) c
   WHERE $11::boolean OR (c.table_schema = $1 AND c.table_name = $2)),
mine AS NOT MATERIALIZED (SELECT ch.* FROM ch WHERE ch.table_schema = $1 AND ch.table_name = $2 AND ch.op <> 'truncate'),
tbl AS (
  SELECT g.*, (SELECT c.table_pk::text FROM ch c WHERE c.table_schema = g.s AND c.table_name = g.n AND c.op <> 'truncate' LIMIT 1) AS sample
    FROM (SELECT ch.table_schema AS s, ch.table_name AS n, count(*)::int AS changes, min(ch.captured_at) AS at, min(ch.id) AS first_id,
                 json_agg(json_build_array(ch.id::text, ${isoSql('ch.captured_at')})) FILTER (WHERE ch.op = 'truncate') AS truncates
            FROM ch WHERE $11::boolean GROUP BY 1, 2) g),
-- Keys (by hash: a collision only sends rows to net.ts, which is exact) named by more than one
-- change, as its key or its key before; hashes and ids only (the wide rows are not copied again).
mh AS MATERIALIZED (SELECT m.id, coalesce(m.key_hash, ${keyHash('m.table_pk')}) AS h, ${keyHash('m.table_pk_before')} AS hb FROM mine m),
dup AS MATERIALIZED (
  SELECT u.h FROM (SELECT m.h FROM mh m UNION ALL SELECT m.hb FROM mh m WHERE m.hb IS NOT NULL) u
   GROUP BY u.h HAVING count(*) > 1),
multi AS MATERIALIZED (SELECT m.id FROM mh m WHERE m.h IN (SELECT d.h FROM dup d) OR m.hb IN (SELECT d.h FROM dup d)),
-- Read from ch by each arm below (NOT MATERIALIZED: a filtered scan costs less than a copy).
cls AS NOT MATERIALIZED (
  SELECT m.*, coalesce(m.key_hash, ${keyHash('m.table_pk')}) AS h, m.id IN (SELECT x.id FROM multi x) AS multi FROM mine m),
upd AS (
  SELECT c.*, u.fs, u.fast,
         CASE WHEN u.fast THEN c.changed_fields
              ELSE ARRAY(SELECT x.f FROM unnest(c.changed_fields) WITH ORDINALITY AS x(f, o)
                          WHERE x.f = ANY($8::text[]) AND (u.fs OR x.f = ANY($7::text[])) ORDER BY x.o) END AS cols
    FROM cls c
    CROSS JOIN LATERAL (SELECT f.fs, f.fs AND c.changed_fields <@ $8::text[] AND c.table_pk_before IS NULL
                                     AND c.changed_from - c.changed_fields = '{}'::jsonb AS fast
                          FROM (SELECT c.changed_from IS NOT NULL AND NOT ${hidden('c.changed_from')} AS fs) f) u
   WHERE NOT c.multi AND c.op NOT IN ('insert', 'delete')),
one AS (
  SELECT c.id, c.captured_at, c.table_pk, c.h, 'delete' AS op, NULL::jsonb AS data, c.data_after AS expect, NULL::json AS ns, 0 AS ncols
    FROM cls c WHERE NOT c.multi AND c.op = 'insert'
  UNION ALL
  SELECT c.id, c.captured_at, c.table_pk, c.h, 'insert',
         CASE WHEN s.snap THEN ${onlyColumn('c.data_before', '$8::text[]')} ELSE '{}'::jsonb END, NULL,
         CASE WHEN s.snap THEN $10::json ELSE $9::json END, 0
    FROM cls c CROSS JOIN LATERAL (SELECT c.data_before IS NOT NULL AND NOT ${hidden('c.data_before')} AS snap) s
   WHERE NOT c.multi AND c.op = 'delete'
  UNION ALL
  SELECT u.id, u.captured_at, u.table_pk, u.h, 'update',
         CASE WHEN u.fast THEN u.changed_from
              ELSE ${only(`(CASE WHEN u.fs THEN u.changed_from ELSE '{}'::jsonb END || coalesce(u.table_pk_before, '{}'::jsonb))`, 'u.cols')} END,
         u.data_after,
         CASE WHEN NOT u.fast THEN
           (SELECT json_agg(json_build_array(x.f, w.why) ORDER BY x.o) FROM unnest(u.changed_fields) WITH ORDINALITY AS x(f, o)
              CROSS JOIN LATERAL (SELECT CASE WHEN NOT x.f = ANY($12::text[]) THEN 'dropped'
                                              WHEN x.f = ANY($5::text[]) THEN 'excluded' WHEN x.f = ANY($6::text[]) THEN 'masked'
                                              WHEN NOT u.fs AND NOT x.f = ANY($7::text[]) THEN 'changedFrom: false' END AS why) w
             WHERE (x.f = ANY($4::text[]) OR NOT x.f = ANY($12::text[])) AND w.why IS NOT NULL) END,
         coalesce(cardinality(u.cols), 0)
    FROM upd u),
steps AS MATERIALIZED (SELECT * FROM one WHERE op <> 'update' OR ncols > 0 OR ns IS NOT NULL),
-- The first later change of each step's row (firstLaterSql's rule, set-wise): the changes of the
-- steps' keys (or moving away from them) after the oldest step, read along the key, key-before and
-- legacy indexes with every key at once (the id compared inside the index; each branch a plain
-- index condition, so no row is compared against the whole key list again), then matched per row.
-- The key-before arms probe only when the table has ever had a key changed (one probe of the
-- partial index), which few have.
ks AS MATERIALIZED (
  SELECT array_agg(s.table_pk) AS keys, array_agg(s.h) AS hashes, min(s.id) AS after FROM steps s),
lc AS MATERIALIZED (
  SELECT c.id, c.transaction_id, c.op, c.captured_at, c.table_pk AS k, false AS moved FROM ${q}.audit_changes c
   WHERE c.table_id = ANY(${scope.ids})${scope.keyed ? ` AND ${scope.keyed}` : ''}
     AND c.key_hash = ANY((SELECT ks.hashes FROM ks)::bigint[]) AND c.id > (SELECT ks.after FROM ks) AND NOT c.transaction_id = ANY($3::bigint[])
  UNION ALL
  SELECT c.id, c.transaction_id, c.op, c.captured_at, c.table_pk_before, true FROM ${q}.audit_changes c
   WHERE c.table_id = ANY(${scope.ids})${scope.keyed ? ` AND ${scope.keyed}` : ''}
     AND c.table_pk_before = ANY((SELECT ks.keys FROM ks)::jsonb[]) AND c.id > (SELECT ks.after FROM ks) AND NOT c.transaction_id = ANY($3::bigint[])
     AND EXISTS (SELECT FROM ${q}.audit_changes e WHERE e.table_id = ANY(${scope.ids}) AND e.table_pk_before IS NOT NULL)
  UNION ALL
  SELECT c.id, c.transaction_id, c.op, c.captured_at, c.table_pk, false FROM ${q}.audit_changes c
   WHERE c.table_id IS NULL AND ${scope.legacy}
     AND c.table_pk = ANY((SELECT ks.keys FROM ks)::jsonb[]) AND c.id > (SELECT ks.after FROM ks) AND NOT c.transaction_id = ANY($3::bigint[])
  UNION ALL
  SELECT c.id, c.transaction_id, c.op, c.captured_at, c.table_pk_before, true FROM ${q}.audit_changes c
   WHERE c.table_id IS NULL AND ${scope.legacy}
     AND c.table_pk_before = ANY((SELECT ks.keys FROM ks)::jsonb[]) AND c.id > (SELECT ks.after FROM ks) AND NOT c.transaction_id = ANY($3::bigint[])
     AND EXISTS (SELECT FROM ${q}.audit_changes e WHERE e.table_id IS NULL AND e.table_pk_before IS NOT NULL)),
hit AS (
  SELECT DISTINCT ON (s.id) s.id AS sid, l.id, l.transaction_id, l.op, l.moved, l.captured_at,
         (SELECT t.actor_ref::text FROM ${q}.audit_transactions t WHERE t.id = l.transaction_id) AS actor
    FROM steps s JOIN lc l ON l.k = s.table_pk AND l.id > s.id
   ORDER BY s.id, l.id, l.moved),
-- The order (steps newest first, tables by their first change) as a number per row, from a sort of
-- the narrow keys alone; JavaScript puts the rows in that order (sorting the wide rows here costs more).
-- A step's time is sent only where it differs from the step before it (a bulk statement's rows
-- share one): JavaScript carries it forward.
ord AS (SELECT s.id, row_number() OVER w AS n,
               CASE WHEN lag(s.captured_at) OVER w IS DISTINCT FROM s.captured_at THEN ${isoSql('s.captured_at')} END AS at
          FROM steps s WINDOW w AS (ORDER BY s.captured_at DESC, s.id DESC))
SELECT 1 AS k, o.n::int AS n, s.op, s.table_pk::text AS key, s.data::text AS data, s.expect::text AS expect, s.ns::text AS ns, s.id::text AS id,
       o.at,
       CASE WHEN h.id IS NOT NULL THEN json_build_array(h.id::text, h.transaction_id::text, h.op, h.moved, ${isoSql('h.captured_at')}, h.actor)::text END AS later
  FROM steps s JOIN ord o ON o.id = s.id LEFT JOIN hit h ON h.sid = s.id
UNION ALL
SELECT 2, 0, 'multi', NULL, NULL, NULL, NULL, c.id::text, NULL, NULL FROM cls c WHERE c.multi
UNION ALL
SELECT 0, (row_number() OVER (ORDER BY t.at, t.first_id))::int, 'table', t.sample, json_build_array(t.s, t.n, t.changes, t.truncates)::text,
       NULL, NULL, NULL, NULL, NULL
  FROM tbl t`;

interface SetRow {
  /** The rows' order: tables (0), then steps (1), then multi (2); by `n` within each. */
  k: number;
  n: number;
  op: 'insert' | 'update' | 'delete' | 'multi' | 'table';
  key: string;
  data: string | null;
  expect: string | null;
  ns: string | null;
  id: string;
  /** The step's captured_at, where it differs from the step before it (in `n` order); else null. */
  at: string | null;
  /** [change id, transaction id, op, moved, at, actor_ref text]. */
  later: string | null;
}

/** A table the transactions changed (summary mode). */
interface ChangedTable {
  schema: string;
  name: string;
  /** One of its stored keys; null: only TRUNCATEs. */
  sampleKey: string | null;
  changes: number;
  truncates: [id: string, at: string][];
}

export interface SetSteps {
  /** Newest change first. */
  steps: NetStep[];
  /** The first later change of a step's row, where there is one. */
  later: Map<NetStep, LaterChange>;
  /** Changes of rows changed more than once in the set (for net.ts). */
  multi: string[];
  /** Summary mode: every table the transactions changed, in the order of their first change. */
  tables: ChangedTable[];
}

const pairs = (entries: [string, Unknown][]) => (entries.length > 0 ? JSON.stringify(entries) : null);

/**
 * One statement for the whole table; see setStepsSql. With `summary`, the same statement also
 * lists every table the transactions changed (so a one-table transaction is read once).
 */
export async function setSteps(
  run: Run,
  q: string,
  meta: TableMeta,
  transactions: string[],
  summary: boolean,
): Promise<SetSteps> {
  const redacted = new Map<string, Unknown>();
  for (const c of meta.exclude) redacted.set(c, 'excluded');
  for (const c of meta.mask) redacted.set(c, 'masked');
  const stored = meta.writable.filter((c) => !redacted.has(c));
  const rows = await run<SetRow>(setStepsSql(q, revertScope(q, meta, '$13::text', '$14::text', '$15')), [
    (meta.recorded ?? meta).schema,
    (meta.recorded ?? meta).name,
    transactions,
    meta.writable,
    meta.exclude,
    meta.mask,
    meta.keyColumns,
    stored,
    pairs(meta.writable.map((c) => [c, 'deleteSnapshot: false'])),
    pairs([...redacted]),
    summary,
    meta.columns,
    meta.schema,
    meta.name,
    ...idParam(meta),
  ]);
  const steps: NetStep[] = [];
  const later = new Map<NetStep, LaterChange>();
  const multi: string[] = [];
  const tables: ChangedTable[] = [];
  // The values as net.ts writes them: compact, in table order (insert) or changed_fields order
  // (update), each value's text exactly as stored.
  const images = new ImageRows((op, keys) =>
    op === 'insert' ? meta.writable.filter((c) => keys.includes(c)) : [...keys].sort(byteOrder),
  );
  let at = '';
  rows.sort((a, b) => a.k - b.k || a.n - b.n);
  for (const r of rows) {
    if (r.op === 'multi') {
      multi.push(r.id);
      continue;
    }
    if (r.op === 'table') {
      const [schema, name, changes, truncates] = JSON.parse(r.data!) as [
        string,
        string,
        number,
        [string, string][] | null,
      ];
      tables.push({ schema, name, sampleKey: r.key, changes, truncates: truncates ?? [] });
      continue;
    }
    if (r.at !== null) at = r.at;
    let data: string | null = null;
    let set: Record<string, unknown> | undefined;
    if (r.data !== null) {
      images.read(r.op, r.data);
      data = images.data;
      set = images.set; // what parseExactJson(data) gives, without a second parse
    }
    const step: NetStep = {
      op: r.op,
      key: r.key,
      data,
      expect: r.expect,
      setColumns: data !== null ? images.columns : NO_COLUMNS,
      notStored: r.ns === null ? NO_UNKNOWN : new Map(JSON.parse(r.ns) as [string, Unknown][]),
      last: { id: r.id, capturedAt: at },
      set,
    };
    steps.push(step);
    if (r.later !== null) {
      const [id, tx, op, moved, at, actor] = JSON.parse(r.later) as [
        string,
        string,
        string,
        boolean,
        string,
        string | null,
      ];
      later.set(step, { id, tx, op, moved, at, actor });
    }
  }
  return { steps, later, multi, tables };
}

/** changed_fields order: PostgreSQL sorts them COLLATE "C", byte by byte in UTF-8. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

const NO_COLUMNS: string[] = [];

/** Shared by every step without columns it cannot restore (never written to). */
const NO_UNKNOWN: ReadonlyMap<string, Unknown> = new Map();
