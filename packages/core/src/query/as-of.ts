import { toThreadlineError } from '../db/db-errors.js';
import { parseExactJson } from './exact-json.js';
import { CHANGE_COLUMNS, type ChangeRow, isoSql, toChange } from './rows.js';
import { Params, type Run, transactionOf } from './sql-parts.js';
import { keyHash, scopeRows, tableScope } from './table-scope.js';
import type { AsOfResult, ChangeOp, RowKey } from './types.js';
import { keyJson, parseInstant, parseTable } from './validate.js';

interface AsOfRow {
  pk: unknown;
  last: ChangeRow | null;
  trunc: ChangeRow | null;
  first: { op: ChangeOp; capturedAt: string } | null;
}

/**
 * The row as it was at `at`. The newest change of the row at or before `at` decides, unless a
 * TRUNCATE after it (and at or before `at`) removed the row: a TRUNCATE of the whole table, or of
 * the partition holding the row. Which partition held the row is read from the partition's
 * current bounds; when that partition was dropped, detached or renamed since, its TRUNCATE counts
 * as the row's deletion (it may have held the row, and "found" would then be a guess).
 */
export async function asOfQuery(
  run: Run,
  q: string,
  table: string,
  key: RowKey,
  at: Date | string,
): Promise<AsOfResult> {
  const t = parseTable(table, undefined, 'asOf');
  const keyText = keyJson(key, 'asOf');
  const instant = parseInstant(at, 'asOf: at');
  const p = new Params();
  const s = p.add(t.schema);
  const n = p.add(t.name);
  const k = p.add(keyText);
  const ts = p.add(instant);
  // Each lookup is index-driven and touches O(changes of this row): the row's changes by
  // (table_pk, captured_at) and by table_pk_before (a key-changing UPDATE), a TRUNCATE of the
  // table by the partial truncate index; never a scan over the table's other changes.
  // `moved_away` marks the change found by its old key: when one statement (one captured_at)
  // both moved a row away from this key and another onto it (SET id = id + 1, a swap), the row
  // that arrived is the answer, whatever the order of the two change ids.
  // By table id and key hash (the full key rechecked); rows not yet keyed by name (table-scope.ts).
  const scope = tableScope(q, s, n);
  const rowChanges = (cmp: string, dir: 'ASC' | 'DESC', cols: string) =>
    ['table_pk', 'table_pk_before']
      .map(
        (column, i) =>
          `SELECT x.*, ${i} AS moved_away FROM (${scopeRows(q, scope, {
            select: cols,
            keyed: column === 'table_pk' ? [`c.key_hash = ${keyHash('(SELECT pk FROM k)')}`] : [],
            where: [`c.${column} = (SELECT pk FROM k)`, `c.captured_at ${cmp} ${ts}::timestamptz`],
            order: `c.captured_at ${dir}, c.id ${dir}`,
            limit: '1',
          })}) x`,
      )
      .join(' UNION ALL ');
  const entry = (from: string) =>
    `(SELECT to_jsonb(x) FROM (SELECT ${CHANGE_COLUMNS} FROM ${from} c ${transactionOf(q)}) x)`;
  // A partition TRUNCATE (data_before = {"partition": …}) counts when the row lies in that
  // partition, or when that can no longer be told (key_in_partition is NULL).
  const sql = `WITH k AS MATERIALIZED (SELECT ${q}.row_key(${s}, ${n}, ${k}::jsonb) AS pk),
    last AS MATERIALIZED (SELECT * FROM (${rowChanges('<=', 'DESC', 'c.*')}) c ORDER BY c.captured_at DESC, c.moved_away, c.id DESC LIMIT 1),
    trunc AS (SELECT c.* FROM last l CROSS JOIN LATERAL (${scopeRows(q, scope, {
      select: 'c.*',
      where: [
        `c.op = 'truncate'`,
        `(c.captured_at, c.id) > (l.captured_at, l.id)`,
        `c.captured_at <= ${ts}::timestamptz`,
        `(c.data_before IS NULL OR coalesce(${q}.key_in_partition(${s}, ${n}, c.data_before ->> 'partition', (SELECT pk FROM k)), true))`,
      ],
      order: 'c.captured_at, c.id',
      limit: '1',
    })}) c ORDER BY c.captured_at, c.id LIMIT 1),
    first AS (SELECT c.op, ${isoSql('c.captured_at')} AS "capturedAt"
                FROM (${rowChanges('>', 'ASC', 'c.op, c.captured_at, c.id')}) c ORDER BY c.captured_at, c.id LIMIT 1)
    SELECT jsonb_build_object('pk', (SELECT pk FROM k), 'last', ${entry('last')}, 'trunc', ${entry('trunc')},
      'first', (SELECT to_jsonb(f) FROM first f))::text AS result`;
  let row: AsOfRow | undefined;
  try {
    const [r] = await run<{ result: string }>(sql, p.values);
    row = r ? (parseExactJson(r.result) as AsOfRow) : undefined;
  } catch (error) {
    throw toThreadlineError(error, 'asOf');
  }
  const last = row?.last;
  const trunc = row?.trunc;
  if (!last) return { status: 'before_horizon', firstChange: row?.first ?? null };
  const change = toChange(last);
  const pk = JSON.stringify(row?.pk);
  const movedAway =
    change.op === 'update' && JSON.stringify(change.tablePk) !== pk && change.tablePkBefore !== null;
  const rowBefore = (): Record<string, unknown> | null =>
    change.dataAfter && change.changedFrom ? { ...change.dataAfter, ...change.changedFrom } : null;
  if (change.op === 'delete')
    return { status: 'deleted', lastRow: change.dataBefore, deletedAt: change.capturedAt, change };
  if (movedAway) return { status: 'deleted', lastRow: rowBefore(), deletedAt: change.capturedAt, change };
  if (trunc) {
    const truncate = toChange(trunc);
    return { status: 'deleted', lastRow: change.dataAfter, deletedAt: truncate.capturedAt, change: truncate };
  }
  if (change.op === 'truncate')
    return { status: 'deleted', lastRow: null, deletedAt: change.capturedAt, change };
  return { status: 'found', row: change.dataAfter ?? {}, change };
}
