import type { SqlSession } from '../db/sql-client.js';
import type { Threadline } from '../threadline.js';
import { deleteManyIfSame, insertManyIfAbsent, updateManyIfSame } from './statements.js';
import type { TableMeta } from './tables.js';
import type { RevertStep } from './types.js';

/** Consecutive steps of one table and op with the same columns: one set-based statement per batch. */
export interface Group {
  meta: TableMeta;
  op: RevertStep['op'];
  columns: string[];
  steps: RevertStep[];
}

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

function statement(g: Group, batch: RevertStep[]): [string, unknown[]] {
  if (g.op === 'delete')
    return [
      deleteManyIfSame(g.meta),
      [`[${batch.map((s) => `{"k":${s.key},"v":${s.expect ?? 'null'}}`).join(',')}]`, g.meta.ignored],
    ];
  if (g.op === 'insert')
    return [
      insertManyIfAbsent(g.meta, g.columns),
      [`[${batch.map((s) => `{"r":${s.data},"k":${s.key}}`).join(',')}]`],
    ];
  return [
    updateManyIfSame(g.meta, g.columns),
    [
      `[${batch.map((s) => `{"s":${s.data},"k":${s.key},"v":${s.expect ?? 'null'}}`).join(',')}]`,
      g.meta.ignored,
    ],
  ];
}

/**
 * Apply's first try: each batch's statement writes only the rows that still are as the plan
 * expects (deletes and updates compare the row as a whole, inserts need the key free), so no
 * separate lock-and-compare pass reads every row first. Runs in a savepoint; when a batch touches
 * fewer rows than planned, or the database refuses a row (a key taken, a parent gone), the
 * savepoint is rolled back and false returned: the caller then locks and compares every row
 * column by column and writes as before, so every outcome and message is the one that pass gives.
 *
 * Only for plans whose tables have no trigger that writes other rows (user triggers, cascading
 * foreign keys): then no write of this revert changes a row a later statement compares, and
 * comparing each row as it is written is the same as comparing them all first.
 */
export async function writeFolded(
  tl: Threadline,
  groups: Group[],
  batchSize: number,
  onBatch: (g: Group, n: number) => void,
): Promise<boolean> {
  try {
    await tl.transaction(async (tx: SqlSession) => {
      for (const g of groups)
        for (const batch of batchesOf(g, batchSize)) {
          const [sql, params] = statement(g, batch);
          const result = await tx.query(sql, params);
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
