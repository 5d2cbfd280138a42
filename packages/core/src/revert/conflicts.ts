import type { ActorRef } from '../context/actor-ref.js';
import { parseExactJson } from '../query/exact-json.js';
import { isoSql } from '../query/rows.js';
import { scopeCondition, tableScope } from '../query/table-scope.js';
import type { Run } from './load.js';
import type { NetStep } from './net.js';
import type { TableMeta } from './tables.js';
import type { RevertConflict } from './types.js';

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

function who(actor: ActorRef | null): string {
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
  const probe = `[${steps.map((s) => `{"k":${s.key},"at":${JSON.stringify(s.last.capturedAt)},"id":${s.last.id}}`).join(',')}]`;
  // Every later change of the table since the first reverted change, matched to the rows by
  // hash (by key now, and by key before for a key change): one pass over what happened since,
  // whatever the planner's statistics say (a per-row index probe planned on stale statistics
  // can walk every later change of the table once per row).
  const since = steps.map((s) => s.last.capturedAt).sort()[0]!;
  const match = (column: string, moved: string) =>
    `SELECT k.i, l.id, l.transaction_id, l.op, ${moved} AS moved, l.captured_at FROM k JOIN later l ON l.${column} = k.pk
      WHERE (l.captured_at, l.id) > (k.at, k.id)`;
  const rows = await run<LaterChange & { i: number }>(
    `WITH k AS MATERIALIZED (SELECT e.i::int AS i, e.x -> 'k' AS pk, (e.x ->> 'at')::timestamptz AS at, (e.x ->> 'id')::bigint AS id
                               FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e(x, i)),
          later AS MATERIALIZED (SELECT c.id, c.transaction_id, c.op, c.table_pk, c.table_pk_before, c.captured_at FROM ${q}.audit_changes c
                                  WHERE ${scopeCondition(tableScope(q, '$1::text', '$2::text'))} AND c.captured_at >= $5::timestamptz
                                    AND NOT c.transaction_id = ANY($4::bigint[]))
     SELECT DISTINCT ON (m.i) m.i, m.id::text AS id, m.transaction_id::text AS tx, m.op, m.moved, ${isoSql('m.captured_at')} AS at,
            (SELECT t.actor_ref::text FROM ${q}.audit_transactions t WHERE t.id = m.transaction_id) AS actor
       FROM (${match('table_pk', 'false')} UNION ALL ${match('table_pk_before', 'true')}) m
      ORDER BY m.i, m.captured_at, m.id`,
    [meta.schema, meta.name, probe, transactions, since],
  );
  for (const { i, ...r } of rows) found.set(steps[Number(i) - 1]!, r);
  return found;
}

const WHY: Record<string, string> = {
  excluded: 'is excluded from capture (exclude), so its old value was never stored',
  masked: 'is masked (mask), so only the placeholder was stored',
  'changedFrom: false': 'was not stored because the table is captured with changedFrom: false',
  'deleteSnapshot: false': 'was not stored because the table is captured with deleteSnapshot: false',
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
