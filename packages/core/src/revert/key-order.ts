import type { NetStep } from './net.js';
import { parseRawObject, type RawImage } from './raw-json.js';
import type { TableMeta } from './tables.js';

/** A row's key as comparable text: the key columns' stored value texts, in key order. */
export const keyOf = (meta: TableMeta, image: RawImage | null): string =>
  JSON.stringify(meta.keyColumns.map((c) => image?.get(c) ?? null));

/** The key an UPDATE step gives its row back (its key now with the key columns it writes). */
export function keyBack(meta: TableMeta, step: NetStep): string {
  const back = new Map(parseRawObject(step.key));
  for (const [k, v] of parseRawObject(step.data) ?? []) back.set(k, v);
  return keyOf(meta, back);
}

const movesKey = (meta: TableMeta, step: NetStep) =>
  step.op === 'update' && meta.keyColumns.some((c) => step.setColumns.includes(c));

/**
 * Steps of one table that must run before the inserts, because a step of an earlier phase takes
 * the key they hold now: a row moved into a key that a re-inserted row needs (delete 1, then move
 * 2 -> 1: the move back must come before the insert), or a row inserted at a key that a row moved
 * back needs (move 1 -> 9, then insert 1: the delete must come before the move back). Apply runs
 * inserts, then updates, then deletes (for foreign keys); these go first, deletes before updates.
 */
export function keyFreeingFirst(meta: TableMeta, steps: NetStep[]): Set<NetStep> {
  const early = new Set<NetStep>();
  // The bulk case (one statement's rows: all deletes, all inserts, or updates that keep keys) has
  // no step that both frees a key and could be needed: nothing to parse.
  const holds = (s: NetStep) => s.op === 'delete' || movesKey(meta, s);
  if (!steps.some(holds) || !steps.some((s) => s.op !== 'delete' && (s.op === 'insert' || movesKey(meta, s))))
    return early;
  const holder = new Map<string, NetStep>();
  for (const step of steps) if (holds(step)) holder.set(keyOf(meta, parseRawObject(step.key)), step);
  const rank = (s: NetStep) => (early.has(s) ? 0 : s.op === 'insert' ? 1 : s.op === 'update' ? 2 : 3);
  // Until nothing moves: an update pulled first may itself need a delete pulled before it.
  for (let changed = true; changed; ) {
    changed = false;
    for (const step of steps) {
      const takes =
        step.op === 'insert'
          ? keyOf(meta, parseRawObject(step.key))
          : movesKey(meta, step)
            ? keyBack(meta, step)
            : null;
      const freer = takes === null ? undefined : holder.get(takes);
      if (freer === undefined || freer === step || early.has(freer)) continue;
      if (rank(freer) > rank(step)) {
        early.add(freer);
        changed = true;
      }
    }
  }
  return early;
}
