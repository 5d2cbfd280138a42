import type { ActorRef } from '../context/actor-ref.js';
import { parseExactJson } from '../query/exact-json.js';
import { isoSql } from '../query/rows.js';
import {
  keyBeforeCondition,
  keyCondition,
  type TableScope,
  tableIdScope,
  tableScope,
} from '../query/table-scope.js';
import type { Run } from './load.js';
import type { NetStep } from './net.js';
import type { TableMeta } from './tables.js';
import type { RevertConflict } from './types.js';

/**
 * Changes of one row are ordered by id, not captured_at: captured_at is when the statement started,
 * so a statement that waited for the row lock has an earlier captured_at than the change it waited
 * for, while its id is drawn after it got the lock (the same row's ids follow commit order). So a
 * later change is looked for by id with no bound on captured_at (however long a statement waited):
 * along the row's own key index, `(table_id, key_hash, captured_at, id)`, whose id column is
 * compared inside the index, so only the row's later changes are read from the table, and the
 * key-before index for a change that moved the key away. One probe per row, in every partition.
 */
function firstLaterSql(q: string, scope: TableScope, key: string, after: string, skip: string): string {
  const branch = (cond: string, moved: string) =>
    `SELECT c.id, c.transaction_id, c.op, ${moved} AS moved, c.captured_at FROM ${q}.audit_changes c
      WHERE ${cond} AND c.id > ${after} AND NOT c.transaction_id = ANY(${skip})`;
  return `SELECT l.* FROM (${branch(keyCondition(scope, key), 'false')} UNION ALL ${branch(keyBeforeCondition(scope, key), 'true')}) l ORDER BY l.id LIMIT 1`;
}

/**
 * Where a table's later changes are looked for: by the table id of its reverted changes when they
 * have one (a name also answers for dropped tables that once had it), else by name. `s`, `n` are
 * SQL text of the table's name now; `id` the SQL of a parameter bound to meta.tableId (only then).
 */
export function revertScope(q: string, meta: TableMeta, s: string, n: string, id: string): TableScope {
  return meta.tableId === undefined ? tableScope(q, s, n) : tableIdScope(`${id}::integer`, s, n);
}

/** meta.tableId as the extra parameter revertScope's `id` names (none without one). */
export const idParam = (meta: TableMeta): number[] => (meta.tableId === undefined ? [] : [meta.tableId]);

/** The first change of a row after its reverted ones that is not itself being reverted. */
export interface LaterChange {
  id: string;
  tx: string;
  op: string;
  /** The change moved the row's key away (key_changed), rather than changing it (changed_since). */
  moved: boolean;
  at: string;
  /** actor_ref as stored JSON text. */
  actor: string | null;
}

export function who(actor: ActorRef | null): string {
  if (!actor) return 'no actor';
  return actor.type === 'anonymous' ? 'anonymous' : `${actor.type}:${actor.id}`;
}

/** The changed_since / key_changed conflict a later change makes for a step. */
export function laterConflict(meta: TableMeta, step: NetStep, r: LaterChange): RevertConflict {
  const actor = r.actor ? (JSON.parse(r.actor) as ActorRef) : null;
  const what = r.moved
    ? 'its key was changed'
    : `it was ${r.op === 'delete' ? 'deleted' : r.op === 'insert' ? 'inserted again' : 'updated'}`;
  return {
    table: meta.label,
    pk: step.pk ?? (parseExactJson(step.key) as Record<string, unknown>),
    kind: r.moved ? 'key_changed' : 'changed_since',
    detail: `${meta.label} ${step.key}: ${what} after the reverted change, by ${who(actor)} at ${r.at} (change ${r.id}, audit transaction ${r.tx})${r.moved ? '; revert the later change first' : '; revert that first, or apply with force to overwrite it'}`,
    changeId: r.id,
    transactionId: r.tx,
    actor,
    at: r.at,
  };
}

/**
 * For each step, the first change of its row after the reverted ones that is not itself being
 * reverted: the row changed again since (changed_since), or its key changed (key_changed).
 * Used for rows net.ts collapsed; set-steps.ts finds the same for single-change rows.
 */
export async function laterChanges(
  run: Run,
  q: string,
  meta: TableMeta,
  steps: NetStep[],
  transactions: string[],
): Promise<Map<NetStep, LaterChange>> {
  const found = new Map<NetStep, LaterChange>();
  if (steps.length === 0) return found;
  const probe = `[${steps.map((s) => `{"k":${s.key},"id":${s.last.id}}`).join(',')}]`;
  const rows = await run<LaterChange & { i: number }>(
    `SELECT k.i, l.id::text AS id, l.transaction_id::text AS tx, l.op, l.moved, ${isoSql('l.captured_at')} AS at,
            (SELECT t.actor_ref::text FROM ${q}.audit_transactions t WHERE t.id = l.transaction_id) AS actor
       FROM (SELECT e.i::int AS i, e.x -> 'k' AS pk, (e.x ->> 'id')::bigint AS id
               FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e(x, i)) k
      CROSS JOIN LATERAL (${firstLaterSql(q, revertScope(q, meta, '$1::text', '$2::text', '$5'), 'k.pk', 'k.id', '$4::bigint[]')}) l`,
    [meta.schema, meta.name, probe, transactions, ...idParam(meta)],
  );
  for (const { i, ...r } of rows) found.set(steps[Number(i) - 1]!, r);
  return found;
}

/**
 * The row as the audit trail last saw it (null: deleted), for steps whose row changed again after
 * the reverted changes: what apply with force compares the row against, so force overwrites the
 * changes the plan listed and nothing after it (a plan applied twice finds the row changed).
 */
export async function latestImages(run: Run, q: string, meta: TableMeta, steps: NetStep[]): Promise<void> {
  if (steps.length === 0) return;
  const probe = `[${steps.map((s) => `{"k":${s.key},"id":${s.last.id}}`).join(',')}]`;
  const rows = await run<{ i: number; img: string | null }>(
    `SELECT k.i::int AS i,
            (SELECT CASE WHEN c.op = 'delete' THEN NULL ELSE c.data_after::text END FROM ${q}.audit_changes c
              WHERE ${keyCondition(revertScope(q, meta, '$1::text', '$2::text', '$4'), 'k.pk')} AND c.id > k.id ORDER BY c.id DESC LIMIT 1) AS img
       FROM (SELECT e.i, e.x -> 'k' AS pk, (e.x ->> 'id')::bigint AS id FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e(x, i)) k`,
    [meta.schema, meta.name, probe, ...idParam(meta)],
  );
  for (const r of rows) steps[Number(r.i) - 1]!.expect = r.img;
}

const WHY: Record<string, string> = {
  excluded: 'is excluded from capture (exclude), so its old value was never stored',
  masked: 'is masked (mask), so only the placeholder was stored',
  'changedFrom: false': 'was not stored because the table is captured with changedFrom: false',
  'deleteSnapshot: false': 'was not stored because the table is captured with deleteSnapshot: false',
  dropped: 'was dropped from the table since, so its old value cannot be written back',
};

/** A step that needs old values that were never stored: refused, naming every column and why. */
export function notStoredConflict(meta: TableMeta, step: NetStep): RevertConflict | null {
  if (step.notStored.size === 0) return null;
  const columns = [...step.notStored.keys()];
  const reasons = [...new Set(step.notStored.values())];
  const detail =
    reasons.length === 1 && reasons[0] === 'deleteSnapshot: false'
      ? `${meta.label} ${step.key}: the deleted row cannot be put back: ${WHY['deleteSnapshot: false']}`
      : `${meta.label} ${step.key}: cannot restore ${columns.map((c) => `column "${c}" (${WHY[step.notStored.get(c)!]})`).join(', ')}`;
  return {
    table: meta.label,
    pk: step.pk ?? (parseExactJson(step.key) as Record<string, unknown>),
    kind: 'not_stored',
    detail,
    columns,
  };
}
