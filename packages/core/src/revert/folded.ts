import type { SqlSession } from '../db/sql-client.js';
import type { Threadline } from '../threadline.js';
import { deleteStored, insertStored, updateStored } from './statements.js';
import type { TableMeta } from './tables.js';
import type { RevertStep } from './types.js';

/** Consecutive steps of one table and op with the same columns: one set-based statement per batch. */
export interface Group {
  meta: TableMeta;
  op: RevertStep['op'];
  columns: string[];
  steps: RevertStep[];
}

/**
 * The change a planned step is read from as stored (set-steps.ts `plain`): only steps plan.ts
 * made, so a plan from anywhere else never gets here (apply plans it again).
 */
export const changeOfStep = new WeakMap<RevertStep, { id: string; at: string }>();

/** A batch touched fewer rows than planned (or the database refused one): compare the long way. */
class NotAsPlanned extends Error {}

/** Constraint violations the full compare could explain (a row that exists again, a missing parent). */
const EXPLAINABLE = new Set(['23505', '23503']);

export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Rows per statement: a table that references itself is written in one statement per op. */
export const batchesOf = (g: Group, batchSize: number) =>
  chunks(g.steps, g.meta.selfReferencing ? g.steps.length : batchSize);

/**
 * Whether the folded pass may run: every step is a change as stored, and no table of the plan has
 * a trigger that writes other rows (user triggers, cascading foreign keys). Then no write of this
 * revert changes a row a later statement compares, so comparing each row as it is written is the
 * same as comparing them all first.
 */
export const foldable = (groups: Group[]) =>
  groups.every((g) => !g.meta.sideWrites && g.steps.every((s) => changeOfStep.has(s)));

/**
 * Apply's first try, for a foldable plan: each batch is one statement given only change ids
 * (statements.ts `deleteStored` ...), which reads the keys and images from audit_changes and
 * writes only the rows that still are as the plan expects; no lock-and-compare pass reads every
 * row first, and no row image travels to the database. Runs in a savepoint; when a batch touches
 * fewer rows than planned, or the database refuses a row (a key taken, a parent gone), the
 * savepoint is rolled back and false returned: the caller then locks and compares every row
 * column by column and writes as before, so every outcome and message is the one that pass gives.
 */
export async function writeFolded(
  tl: Threadline,
  q: string,
  groups: Group[],
  batchSize: number,
  onBatch: (g: Group, n: number) => void,
): Promise<boolean> {
  try {
    await tl.transaction(async (tx: SqlSession) => {
      for (const g of groups)
        for (const batch of batchesOf(g, batchSize)) {
          const changes = batch.map((s) => changeOfStep.get(s)!);
          const ids = [changes.map((c) => c.id), changes.map((c) => c.at)];
          const result =
            g.op === 'delete'
              ? await tx.query(deleteStored(g.meta, q), [...ids, g.meta.ignored])
              : g.op === 'update'
                ? await tx.query(updateStored(g.meta, q, g.columns), [...ids, g.meta.ignored])
                : await tx.query(insertStored(g.meta, q, g.columns), ids);
          if (result.rowCount !== batch.length) throw new NotAsPlanned();
          onBatch(g, batch.length);
        }
    });
    return true;
  } catch (error) {
    if (error instanceof NotAsPlanned || EXPLAINABLE.has((error as { code?: string }).code ?? ''))
      return false;
    throw error;
  }
}
