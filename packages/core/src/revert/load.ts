import { formatTableName, type TableName } from '../capture/identifiers.js';
import { cleanId } from '../context/id-rule.js';
import { ThreadlineError } from '../errors.js';
import { isDate, isObjectInput, readInput } from '../plain-input.js';
import { parseExactJson } from '../query/exact-json.js';
import { isoSql } from '../query/rows.js';
import { keyBeforeCondition, keyCondition, scopeCondition, tableScope } from '../query/table-scope.js';
import { invalid, keyJson, parseCorrelationId, parseInstant, parseTable } from '../query/validate.js';
import { safeText } from '../safe-text.js';
import { followRow, keyAtPoint, MAX_ID } from './row-history.js';
import { cmpId, type StoredChange } from './stored-changes.js';
import type { RevertSummary, RevertTarget } from './types.js';

export type Run = <R>(sql: string, params: unknown[]) => Promise<R[]>;

/** A table the target changed. */
interface TargetTable {
  schema: string;
  name: string;
  /** One of its stored keys (names the key columns of a table capture no longer knows). */
  sampleKey: string;
  /** The changes to revert, oldest first; null: every change of the target's transactions (read set-wise). */
  changes: StoredChange[] | null;
}

export interface LoadedTarget {
  /** In the order of their first reverted change; tables with only TRUNCATEs are left out. */
  tables: TargetTable[];
  /** TRUNCATEs among the changes, oldest first (they cannot be reverted). */
  truncates: { schema: string; name: string; id: string; at?: string }[];
  /** How many changes the target holds. */
  changeCount: number;
  /**
   * A transaction or correlation target with row changes: one table they changed. The plan reads
   * that table's steps and the list of every changed table (with the TRUNCATEs and the count) in
   * one statement; `tables`, `truncates` and `changeCount` are then filled from it.
   */
  first: { schema: string; name: string; sampleKey: string } | null;
  /** Audit transactions whose changes are reverted (a later change outside them is a conflict). */
  transactions: string[];
  causationId: string;
  target: RevertSummary['target'];
  label: string;
}

function transactionIdText(value: unknown): string {
  const text =
    typeof value === 'string'
      ? value.trim()
      : typeof value === 'number' || typeof value === 'bigint'
        ? String(value)
        : '';
  if (!/^\d{1,19}$/.test(text) || BigInt(text) > 9223372036854775807n)
    throw invalid(
      `revert.plan: transactionId must be a positive integer (an audit transaction id), got ${JSON.stringify(safeText(value).slice(0, 40))}`,
    );
  return text;
}

/** The changes a revert target names, oldest first. */
export async function loadTarget(run: Run, q: string, input: RevertTarget): Promise<LoadedTarget> {
  if (!isObjectInput(input))
    throw invalid('revert.plan: pass { transactionId }, { correlationId } or { table, pk, to }');
  const target = readInput(input, 'revert.plan target') as RevertTarget;
  const keys = Object.keys(target).sort().join(',');
  if (keys === 'transactionId') {
    const id = transactionIdText((target as { transactionId: unknown }).transactionId);
    const found = await run<{ id: string }>(
      `SELECT id::text AS id FROM ${q}.audit_transactions WHERE id = $1::bigint`,
      [id],
    );
    if (found.length === 0)
      throw new ThreadlineError(
        'NOT_FOUND',
        `revert.plan: there is no audit transaction ${id}; find it with threadline timeline`,
      );
    return {
      ...(await changedTables(run, q, [id])),
      transactions: [id],
      causationId: id,
      target: { transactionId: id },
      label: `audit transaction ${id}`,
    };
  }
  if (keys === 'correlationId') {
    const cid = parseCorrelationId((target as { correlationId: unknown }).correlationId, 'revert.plan');
    // Every transaction that carries the correlation id or is linked to an action that does,
    // except earlier reverts (undoing the bundle means undoing the work, not a previous undo).
    const rows = await run<{ id: string }>(
      `SELECT x.id::text AS id FROM ${q}.audit_transactions x
        WHERE x.id IN (SELECT t.id FROM ${q}.audit_transactions t WHERE t.correlation_id = $1
                       UNION SELECT a.transaction_id FROM ${q}.audit_actions a WHERE a.correlation_id = $1 AND a.transaction_id IS NOT NULL)
          AND x.source IS DISTINCT FROM 'threadline:revert' ORDER BY x.id`,
      [cid],
    );
    if (rows.length === 0)
      throw new ThreadlineError(
        'NOT_FOUND',
        `revert.plan: no audit transaction carries correlation id ${JSON.stringify(cid)}`,
      );
    const ids = rows.map((r) => r.id);
    return {
      ...(await changedTables(run, q, ids)),
      transactions: ids,
      // The revert's own transaction is bound with this causation id, by the id rule for binding: a
      // correlation id an earlier release stored and the rule now refuses (lookupId found it)
      // cannot be bound, so the bundle's first transaction stands in (its incident lists the revert).
      causationId: cleanId(cid) ?? ids[0]!,
      target: { correlationId: cid },
      label: `correlation ${cid}`,
    };
  }
  if (keys === 'pk,table,to') return loadRow(run, q, target as Extract<RevertTarget, { table: string }>);
  throw invalid(
    `revert.plan: unknown target keys ${keys || '(none)'}; pass { transactionId }, { correlationId } or { table, pk, to }`,
  );
}

interface TableRow {
  s: string;
  n: string;
  changes: number;
  truncates: [string, string][] | null;
  sample: string | null;
}

/** One table the transactions changed rows of (any), or else what they hold (only TRUNCATEs, or nothing). */
async function changedTables(
  run: Run,
  q: string,
  transactions: string[],
): Promise<Pick<LoadedTarget, 'tables' | 'truncates' | 'changeCount' | 'first'>> {
  const [first] = await run<{ s: string; n: string; pk: string }>(
    `SELECT c.table_schema AS s, c.table_name AS n, c.table_pk::text AS pk FROM ${q}.audit_changes c
      WHERE c.transaction_id = ANY($1::bigint[]) AND c.op <> 'truncate' LIMIT 1`,
    [transactions],
  );
  if (first)
    return {
      tables: [],
      truncates: [],
      changeCount: 0,
      first: { schema: first.s, name: first.n, sampleKey: first.pk },
    };
  return { ...(await tablesOf(run, q, transactions)), first: null };
}

/** The tables the transactions changed, with their TRUNCATEs; the changes stay in the database. */
async function tablesOf(
  run: Run,
  q: string,
  transactions: string[],
): Promise<Pick<LoadedTarget, 'tables' | 'truncates' | 'changeCount'>> {
  const rows = await run<TableRow>(
    `SELECT g.s, g.n, g.changes, g.truncates,
            (SELECT c.table_pk::text FROM ${q}.audit_changes c WHERE c.transaction_id = ANY($1::bigint[])
                AND c.table_schema = g.s AND c.table_name = g.n AND c.op <> 'truncate' LIMIT 1) AS sample
       FROM (SELECT c.table_schema AS s, c.table_name AS n, count(*)::int AS changes, min(c.captured_at) AS at, min(c.id) AS id,
                    json_agg(json_build_array(c.id::text, ${isoSql('c.captured_at')})) FILTER (WHERE c.op = 'truncate') AS truncates
               FROM ${q}.audit_changes c WHERE c.transaction_id = ANY($1::bigint[]) GROUP BY 1, 2) g
      ORDER BY g.at, g.id`,
    [transactions],
  );
  const truncates = rows
    .flatMap((r) => (r.truncates ?? []).map(([id, at]) => ({ schema: r.s, name: r.n, id, at })))
    .sort((a, b) => (a.at === b.at ? cmpId(a.id, b.id) : a.at < b.at ? -1 : 1))
    .map(({ schema, name, id }) => ({ schema, name, id }));
  return {
    tables: rows
      .filter((r) => r.sample !== null)
      .map((r) => ({ schema: r.s, name: r.n, sampleKey: r.sample!, changes: null })),
    truncates,
    changeCount: rows.reduce((n, r) => n + Number(r.changes), 0),
  };
}

/** One row's changes after a point, following the row through key changes. */
async function loadRow(
  run: Run,
  q: string,
  target: { table: string; pk: unknown; to: unknown },
): Promise<LoadedTarget> {
  const table: TableName = parseTable(target.table, undefined, 'revert.plan');
  const given = keyJson(target.pk as never, 'revert.plan');
  const [{ pk }] = (await run<{ pk: string }>(`SELECT ${q}.row_key($1, $2, $3::jsonb)::text AS pk`, [
    table.schema,
    table.name,
    given,
  ])) as [{ pk: string }];
  let at: string;
  let afterId: string;
  let toText: string;
  let start = pk;
  if (isDate(target.to) || (typeof target.to === 'string' && !/^\d+$/.test(target.to.trim()))) {
    at = parseInstant(target.to, 'revert.plan: to');
    afterId = MAX_ID;
    toText = at;
  } else {
    const id = transactionIdText(target.to);
    // A change of this table, also when recorded under a former name (table-scope.ts). Looked up
    // along the row's key (and key-before) index with the id compared inside the index: the
    // primary key leads with captured_at, so a lookup by id alone reads every partition's id BRIN
    // and the heap pages its ranges cover. Only a change of another row (an error) is looked up so.
    const scope = tableScope(q, '$2::text', '$3::text');
    const read = (where: string) =>
      run<{ at: string; pk: string; pk_before: string | null; s: string; n: string; mine: boolean }>(
        `SELECT ${isoSql('c.captured_at')} AS at, c.table_pk::text AS pk, c.table_pk_before::text AS pk_before, c.table_schema AS s, c.table_name AS n,
                ${scopeCondition(scope)} AS mine
           FROM ${q}.audit_changes c WHERE c.id = $1::bigint AND ${where}`,
        where === 'true' ? [id, table.schema, table.name] : [id, table.schema, table.name, pk],
      );
    let rows = await read(
      `(${keyCondition(scope, '$4::jsonb')} OR ${keyBeforeCondition(scope, '$4::jsonb')})`,
    );
    if (rows.length === 0) rows = await read('true');
    const change = rows[0];
    if (!change)
      throw new ThreadlineError(
        'NOT_FOUND',
        `revert.plan: there is no audit change ${id}; find it with threadline history`,
      );
    if (!change.mine || (change.pk !== pk && change.pk_before !== pk))
      throw invalid(
        `revert.plan: change ${id} is a change of ${formatTableName({ schema: change.s, name: change.n })} ${change.pk}, not of ${formatTableName(table)} ${pk}`,
      );
    at = change.at;
    afterId = id;
    toText = `change ${id}`;
    start = change.pk; // the key the row had right after that change
  }
  const since = afterId === MAX_ID ? at : afterId;
  let changes = await followRow(run, q, table, start, since, afterId === MAX_ID);
  if (changes.length === 0 && afterId === MAX_ID) {
    // No change of the key the row had at the point: the key given may be the one the row has now,
    // after a key change since (the key a plan shows). Follow the moves into it back to the point.
    const then = await keyAtPoint(run, q, table, pk, at);
    if (then !== pk) {
      const moved = await followRow(run, q, table, then, at, true);
      if (moved.at(-1)?.pk === pk) changes = moved;
    }
  }
  const transactions = [...new Set(changes.map((c) => c.transactionId))];
  const rowChanges = changes.filter((c) => c.op !== 'truncate');
  return {
    tables:
      rowChanges.length === 0
        ? []
        : [{ schema: table.schema, name: table.name, sampleKey: rowChanges[0]!.pk, changes: rowChanges }],
    truncates: changes
      .filter((c) => c.op === 'truncate')
      .map((c) => ({ schema: c.schema, name: c.name, id: c.id })),
    changeCount: changes.length,
    first: null,
    transactions,
    causationId: changes[changes.length - 1]?.transactionId ?? `${formatTableName(table)} ${pk}`,
    target: { table: formatTableName(table), pk: parseExactJson(pk) as Record<string, unknown>, to: toText },
    label: `${formatTableName(table)} ${pk} back to ${toText}`,
  };
}
