import type { ActorRef } from '../context/actor-ref.js';
import { parseExactJson } from '../query/exact-json.js';
import { isoSql } from '../query/rows.js';
import { keyBeforeCondition, keyCondition } from '../query/table-scope.js';
import { idParam, type LaterChange, laterConflict, latestImages, revertScope, who } from './conflicts.js';
import type { Run } from './load.js';
import type { NetStep } from './net.js';
import type { TableMeta } from './tables.js';
import type { RevertConflict } from './types.js';

/**
 * Conflicts `force` cannot override because the row is not where the revert needs it: a key the
 * revert would give a row (a re-inserted row's key, or the old key an update moves a row back to)
 * is held by another row now (key_taken), or the row an update or delete would write was deleted
 * since (deleted_since). Apply would otherwise fail on a duplicate key or a missing row, force or not.
 */

/**
 * Every step's later-change conflict (conflicts.ts laterConflict), with the row's image as the
 * audit trail last saw it (latestImages), then told apart by that image: a re-inserted row whose
 * key holds a row again is key_taken, an updated or deleted row that is gone is deleted_since.
 */
export async function rowConflicts(
  run: Run,
  q: string,
  meta: TableMeta,
  steps: NetStep[],
  later: Map<NetStep, LaterChange>,
): Promise<RevertConflict[]> {
  const out: [NetStep, RevertConflict][] = [];
  for (const step of steps) {
    const change = later.get(step);
    if (change) out.push([step, laterConflict(meta, step, change)]);
  }
  const changed = out.filter(([s]) => !later.get(s)!.moved).map(([s]) => s);
  await latestImages(run, q, meta, changed);
  for (const [step, c] of out) {
    if (c.kind !== 'changed_since') continue;
    const at = `${who(c.actor ?? null)} at ${c.at} (change ${c.changeId}, audit transaction ${c.transactionId})`;
    if (step.op === 'insert' && step.expect !== null) {
      c.kind = 'key_taken';
      c.detail = `${meta.label} ${step.key}: cannot be inserted back: a row with this key exists again (${later.get(step)!.op === 'insert' ? 'inserted' : 'moved there'} by ${at}); revert that change first, or delete or move that row by hand`;
    } else if (step.op !== 'insert' && step.expect === null) {
      c.kind = 'deleted_since';
      c.detail = `${meta.label} ${step.key}: it was deleted after the reverted change, by ${at}, so there is no row to ${step.op === 'delete' ? 'delete' : 'write back'}; revert that delete first${step.op === 'delete' ? '' : ' (it puts the row back)'}, or revert without this row by hand`;
    }
  }
  return out.map(([, c]) => c);
}

/**
 * Update steps that move a row back to an old key (the reverted change moved it away) where a
 * row holds that key now: a later change (not being reverted) inserted a row there or moved one
 * into it, and the last later change of the key did not delete it or move it away. One statement
 * for the table, one probe per moved-back row along the key and key-before indexes.
 */
export async function takenKeys(
  run: Run,
  q: string,
  meta: TableMeta,
  steps: NetStep[],
  transactions: string[],
): Promise<RevertConflict[]> {
  const moved = steps.filter(
    (s) => s.op === 'update' && s.setColumns.some((c) => meta.keyColumns.includes(c)),
  );
  if (moved.length === 0) return [];
  const probe = `[${moved.map((s) => `{"k":${s.key},"d":${s.data},"id":${s.last.id}}`).join(',')}]`;
  const scope = revertScope(q, meta, '$1::text', '$2::text', '$6');
  const branch = (cond: string, into: string) =>
    `SELECT c.id, c.transaction_id, c.op, ${into} AS held, c.captured_at FROM ${q}.audit_changes c
      WHERE ${cond} AND c.id > k.id AND NOT c.transaction_id = ANY($4::bigint[])`;
  const rows = await run<{
    i: number;
    old: string;
    id: string;
    tx: string;
    op: string;
    at: string;
    actor: string | null;
  }>(
    `SELECT k.i, k.old::text AS old, l.id::text AS id, l.transaction_id::text AS tx, l.op, ${isoSql('l.captured_at')} AS at,
            (SELECT t.actor_ref::text FROM ${q}.audit_transactions t WHERE t.id = l.transaction_id) AS actor
       FROM (SELECT e.i::int AS i, e.x -> 'k' AS pk, (e.x -> 'k') || ((e.x -> 'd') - ARRAY(SELECT jsonb_object_keys((e.x -> 'd') - $5::text[]))) AS old,
                    (e.x ->> 'id')::bigint AS id
               FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e(x, i)) k
      CROSS JOIN LATERAL (SELECT h.* FROM (${branch(keyCondition(scope, 'k.old'), "c.op <> 'delete'")}
                                 UNION ALL ${branch(keyBeforeCondition(scope, 'k.old'), 'false')}) h ORDER BY h.id DESC LIMIT 1) l
      WHERE l.held AND k.old <> k.pk`,
    [meta.schema, meta.name, probe, transactions, meta.keyColumns, ...idParam(meta)],
  );
  return rows.map((r) => {
    const step = moved[Number(r.i) - 1]!;
    const actor = r.actor ? (JSON.parse(r.actor) as ActorRef) : null;
    return {
      table: meta.label,
      pk: step.pk ?? (parseExactJson(step.key) as Record<string, unknown>),
      kind: 'key_taken',
      detail: `${meta.label} ${step.key}: the revert would give it back key ${r.old}, which row ${meta.label} ${r.old} holds now (last changed by ${who(actor)} at ${r.at}, change ${r.id}, audit transaction ${r.tx}); revert that change first, or move or delete that row by hand`,
      changeId: r.id,
      transactionId: r.tx,
      actor,
      at: r.at,
    };
  });
}
