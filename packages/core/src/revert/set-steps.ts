import { parseExactJson } from '../query/exact-json.js';
import { isoSql } from '../query/rows.js';
import type { LaterChange } from './conflicts.js';
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
 * $9 / $10 the not-stored columns of a re-inserted row without / with a delete snapshot.
 */
const hidden = (x: string) =>
  // Portable-mode capture stores {"threadline": "hidden: ..."} instead of an image (net.ts `stored`).
  `(${x} ? 'threadline' AND ${x} - 'threadline' = '{}'::jsonb AND NOT 'threadline' = ANY($4::text[]))`;

/** `x` without the keys that are not in `keep` (a text[] expression). */
const only = (x: string, keep: string) => `(${x} - ARRAY(SELECT jsonb_object_keys(${x} - ${keep})))`;

const setStepsSql = (q: string) => `
WITH ch AS MATERIALIZED (
  SELECT c.id, c.op, c.table_pk, c.table_pk_before, c.data_after, c.data_before, c.changed_fields, c.changed_from, c.captured_at
    FROM ${q}.audit_changes c
   WHERE c.transaction_id = ANY($3::bigint[]) AND c.table_schema = $1 AND c.table_name = $2 AND c.op <> 'truncate'),
dup AS MATERIALIZED (
  SELECT u.k FROM (SELECT ch.table_pk AS k FROM ch UNION ALL SELECT ch.table_pk_before FROM ch WHERE ch.table_pk_before IS NOT NULL) u
   GROUP BY u.k HAVING count(*) > 1),
cls AS MATERIALIZED (
  SELECT ch.*, (d1.k IS NOT NULL OR d2.k IS NOT NULL) AS multi
    FROM ch LEFT JOIN dup d1 ON d1.k = ch.table_pk LEFT JOIN dup d2 ON d2.k = ch.table_pk_before),
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
  SELECT c.id, c.captured_at, c.table_pk, 'delete' AS op, NULL::jsonb AS data, c.data_after AS expect, NULL::json AS ns, 0 AS ncols
    FROM cls c WHERE NOT c.multi AND c.op = 'insert'
  UNION ALL
  SELECT c.id, c.captured_at, c.table_pk, 'insert',
         CASE WHEN s.snap THEN ${only('c.data_before', '$8::text[]')} ELSE '{}'::jsonb END, NULL,
         CASE WHEN s.snap THEN $10::json ELSE $9::json END, 0
    FROM cls c CROSS JOIN LATERAL (SELECT c.data_before IS NOT NULL AND NOT ${hidden('c.data_before')} AS snap) s
   WHERE NOT c.multi AND c.op = 'delete'
  UNION ALL
  SELECT u.id, u.captured_at, u.table_pk, 'update',
         CASE WHEN u.fast THEN u.changed_from
              ELSE ${only(`(CASE WHEN u.fs THEN u.changed_from ELSE '{}'::jsonb END || coalesce(u.table_pk_before, '{}'::jsonb))`, 'u.cols')} END,
         u.data_after,
         CASE WHEN NOT u.fast THEN
           (SELECT json_agg(json_build_array(x.f, w.why) ORDER BY x.o) FROM unnest(u.changed_fields) WITH ORDINALITY AS x(f, o)
              CROSS JOIN LATERAL (SELECT CASE WHEN x.f = ANY($5::text[]) THEN 'excluded' WHEN x.f = ANY($6::text[]) THEN 'masked'
                                              WHEN NOT u.fs AND NOT x.f = ANY($7::text[]) THEN 'changedFrom: false' END AS why) w
             WHERE x.f = ANY($4::text[]) AND w.why IS NOT NULL) END,
         coalesce(cardinality(u.cols), 0)
    FROM upd u),
steps AS MATERIALIZED (SELECT * FROM one WHERE op <> 'update' OR ncols > 0 OR ns IS NOT NULL),
later AS MATERIALIZED (
  SELECT c.id, c.transaction_id, c.op, c.table_pk, c.table_pk_before, c.captured_at FROM ${q}.audit_changes c
   WHERE c.table_schema = $1 AND c.table_name = $2 AND c.captured_at >= (SELECT min(s.captured_at) FROM steps s)
     AND NOT c.transaction_id = ANY($3::bigint[])),
hit AS (
  SELECT DISTINCT ON (m.sid) m.* FROM (
      SELECT s.id AS sid, l.id, l.transaction_id, l.op, false AS moved, l.captured_at
        FROM steps s JOIN later l ON l.table_pk = s.table_pk WHERE (l.captured_at, l.id) > (s.captured_at, s.id)
      UNION ALL
      SELECT s.id AS sid, l.id, l.transaction_id, l.op, true AS moved, l.captured_at
        FROM steps s JOIN later l ON l.table_pk_before = s.table_pk WHERE (l.captured_at, l.id) > (s.captured_at, s.id)) m
   ORDER BY m.sid, m.captured_at, m.id)
SELECT r.op, r.key, r.data, r.expect, r.ns, r.id, r.at, r.l_id, r.l_tx, r.l_op, r.l_moved, r.l_at, r.l_actor FROM (
  SELECT s.op, s.table_pk::text AS key, s.data::text AS data, s.expect::text AS expect, s.ns::text AS ns, s.id::text AS id,
         ${isoSql('s.captured_at')} AS at, h.id::text AS l_id, h.transaction_id::text AS l_tx, h.op AS l_op, h.moved AS l_moved,
         ${isoSql('h.captured_at')} AS l_at,
         (SELECT t.actor_ref::text FROM ${q}.audit_transactions t WHERE t.id = h.transaction_id) AS l_actor,
         s.captured_at AS o_at, s.id AS o_id
    FROM steps s LEFT JOIN hit h ON h.sid = s.id
  UNION ALL
  SELECT 'multi', NULL, NULL, NULL, NULL, c.id::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM cls c WHERE c.multi) r
ORDER BY r.op = 'multi', r.o_at DESC, r.o_id DESC`;

interface SetRow {
  op: 'insert' | 'update' | 'delete' | 'multi';
  key: string;
  data: string | null;
  expect: string | null;
  ns: string | null;
  id: string;
  at: string;
  l_id: string | null;
  l_tx: string | null;
  l_op: string | null;
  l_moved: boolean | null;
  l_at: string | null;
  l_actor: string | null;
}

export interface SetSteps {
  /** Newest change first. */
  steps: NetStep[];
  /** The first later change of a step's row, where there is one. */
  later: Map<NetStep, LaterChange>;
  /** Changes of rows changed more than once in the set (for net.ts). */
  multi: string[];
}

const pairs = (entries: [string, Unknown][]) => (entries.length > 0 ? JSON.stringify(entries) : null);

/** One statement for the whole table; see setStepsSql. */
export async function setSteps(
  run: Run,
  q: string,
  meta: TableMeta,
  transactions: string[],
): Promise<SetSteps> {
  const redacted = new Map<string, Unknown>();
  for (const c of meta.exclude) redacted.set(c, 'excluded');
  for (const c of meta.mask) redacted.set(c, 'masked');
  const stored = meta.writable.filter((c) => !redacted.has(c));
  const rows = await run<SetRow>(setStepsSql(q), [
    meta.schema,
    meta.name,
    transactions,
    meta.writable,
    meta.exclude,
    meta.mask,
    meta.keyColumns,
    stored,
    pairs(meta.writable.map((c) => [c, 'deleteSnapshot: false'])),
    pairs([...redacted]),
  ]);
  const steps: NetStep[] = [];
  const later = new Map<NetStep, LaterChange>();
  const multi: string[] = [];
  for (const r of rows) {
    if (r.op === 'multi') {
      multi.push(r.id);
      continue;
    }
    const set = r.data === null ? undefined : (parseExactJson(r.data) as Record<string, unknown>);
    const step: NetStep = {
      op: r.op,
      key: r.key,
      data: r.data,
      expect: r.expect,
      setColumns: set ? Object.keys(set) : [],
      notStored: r.ns === null ? NO_UNKNOWN : new Map(JSON.parse(r.ns) as [string, Unknown][]),
      last: { id: r.id, capturedAt: r.at },
      pk: parseExactJson(r.key) as Record<string, unknown>,
      set,
    };
    steps.push(step);
    if (r.l_id !== null)
      later.set(step, {
        id: r.l_id,
        tx: r.l_tx!,
        op: r.l_op!,
        moved: r.l_moved === true,
        at: r.l_at!,
        actor: r.l_actor,
      });
  }
  return { steps, later, multi };
}

/** Shared by every step without columns it cannot restore (never written to). */
const NO_UNKNOWN: ReadonlyMap<string, Unknown> = new Map();
