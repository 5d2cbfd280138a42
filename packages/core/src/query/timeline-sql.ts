import { ActorRef as Actor } from '../context/actor-ref.js';
import { type Params, transactionOf, windowAndCursor } from './sql-parts.js';
import { schemaScope, scopeCondition, scopeRows, type TableScope, tableScope } from './table-scope.js';
import type { ParsedTimelineFilters } from './validate.js';

/** What a timeline page selects: columns of `c` and `t`, and the transaction columns `t` carries. */
export interface TimelineSelect {
  columns: string;
  transactionColumns?: string;
}

type After = { capturedAt: string; id: string } | null;

/**
 * The timeline's filter conditions on `c` (audit_changes), after the keyset position `after`,
 * and the subquery of transaction ids the actor, correlation, request and job filters select
 * (null for none of them). Shared by tl.timeline and tl.export, so both filter exactly alike.
 */
export function timelineFilterSql(
  q: string,
  p: Params,
  f: ParsedTimelineFilters,
  after: After,
): {
  where: string[];
  transactions: string | null;
  newestTransactions: ((n: string) => string) | null;
  scope: TableScope | null;
  rest: string[];
} {
  const rest = windowAndCursor(p, f, after);
  // A table by its id (its former names included), a schema by the ids recorded in it (table-scope.ts).
  const scope = f.table
    ? tableScope(q, p.add(f.table.schema), p.add(f.table.name))
    : f.tableSchema
      ? schemaScope(q, p.add(f.tableSchema))
      : null;
  const where = [...rest];
  if (scope) where.push(scopeCondition(scope));
  const tx = transactionFilter(q, p, f);
  return {
    where,
    transactions: tx?.ids ?? null,
    newestTransactions: tx
      ? (n) => `SELECT x.id, x.occurred_at FROM ${tx.from} ORDER BY x.occurred_at DESC, x.id DESC LIMIT ${n}`
      : null,
    scope,
    rest,
  };
}

/** One timeline page (newest first, at most `limit` rows after `after`) selecting `select`. */
export function timelineSql(
  q: string,
  p: Params,
  f: ParsedTimelineFilters,
  after: After,
  limit: string,
  select: TimelineSelect,
): string {
  const { where, transactions, newestTransactions, scope, rest } = timelineFilterSql(q, p, f, after);
  const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
  if (!transactions || !newestTransactions) {
    if (scope) {
      // Newest first off (table_id, captured_at, id), one ordered scan per table id, and the
      // legacy index (or the compact index's NULL range) for rows not yet keyed.
      return `SELECT ${select.columns} FROM (SELECT * FROM (${scopeRows(q, scope, {
        select: '*',
        where: rest,
        order: 'c.captured_at DESC, c.id DESC',
        limit,
      })}) c ORDER BY c.captured_at DESC, c.id DESC LIMIT ${limit}) c
        ${transactionOf(q, select.transactionColumns)} ORDER BY c.captured_at DESC, c.id DESC`;
    }
    // Newest first straight off the primary key (captured_at, id).
    return `SELECT ${select.columns} FROM (SELECT * FROM ${q}.audit_changes c ${cond}
          ORDER BY c.captured_at DESC, c.id DESC LIMIT ${limit}) c
        ${transactionOf(q, select.transactionColumns)} ORDER BY c.captured_at DESC, c.id DESC`;
  }
  // Actor, correlation, request and job filters select transactions; their changes are merged
  // newest first off (transaction_id, captured_at, id), index-only without a table filter
  // (docs/operations.md#index-keys):
  // 1. tops: each matching transaction's newest matching change (one index probe each);
  //    only the `limit` transactions with the newest tops can hold a change of the page.
  // 2. the transaction ranked r by its top has r - 1 tops newer than all of its changes, so
  //    it contributes at most limit - r + 1 changes: at most limit * (limit + 1) / 2 index
  //    entries in all, however many changes the actor or the transactions have.
  // 3. only the page's rows are read in full.
  // A busy actor has thousands of transactions, and a probe without a time bound reads the index
  // of every partition. So first a floor: steps 1-2 over the `limit` transactions that started
  // last (index order of actor_ref, occurred_at), probing only from each one's start on (a
  // transaction writes after it starts). Those are real matching changes, so when they are
  // `limit` many, the page's last change is not older than the oldest of them: every probe of
  // the page itself is bounded by that captured_at (runtime partition pruning), whatever
  // transaction wrote it, a long-running one included. Fewer than `limit`: no floor.
  const inner = (bound: string) => [`c.transaction_id = x.id`, ...where, bound].join(' AND ');
  const newest = (n: string, bound: string) =>
    `SELECT c.captured_at, c.id FROM ${q}.audit_changes c WHERE ${inner(bound)} ORDER BY c.captured_at DESC, c.id DESC LIMIT ${n}`;
  const merge = (from: string, bound: string) => `SELECT s.captured_at, s.id FROM (
        SELECT x.*, row_number() OVER (ORDER BY x.captured_at DESC, x.change_id DESC) AS rank FROM (
          SELECT x.*, s.captured_at, s.id AS change_id FROM (${from}) x CROSS JOIN LATERAL (${newest('1', bound)}) s
           ORDER BY s.captured_at DESC, s.id DESC LIMIT ${limit}) x) x
      CROSS JOIN LATERAL (${newest(`(${limit}::int - x.rank + 1)`, bound)}) s
      ORDER BY s.captured_at DESC, s.id DESC LIMIT ${limit}`;
  const below = 'c.captured_at <= (SELECT newest.at FROM newest)';
  return `WITH newest AS MATERIALIZED (SELECT max(c.captured_at) AS at FROM ${q}.audit_changes c),
      recent AS MATERIALIZED (${newestTransactions(limit)}),
      floor AS MATERIALIZED (
        SELECT CASE WHEN count(*) = ${limit}::int THEN min(f.captured_at) ELSE '-infinity'::timestamptz END AS at
          FROM (${merge('SELECT * FROM recent', `c.captured_at >= x.occurred_at AND ${below}`)}) f),
      page AS MATERIALIZED (${merge(transactions, `c.captured_at >= (SELECT floor.at FROM floor) AND ${below}`)})
      SELECT ${select.columns} FROM page
        JOIN ${q}.audit_changes c ON c.captured_at = page.captured_at AND c.id = page.id
        ${transactionOf(q, select.transactionColumns)}
      ORDER BY c.captured_at DESC, c.id DESC`;
}

/**
 * Every change matching `f`, newest first (at most `limit`), as one statement for a streaming read
 * (export's COPY): the timeline's filters, with the transactions they select as a semi-join.
 * `from` adds joins after `c` (audit_changes).
 */
export function timelineScanSql(
  q: string,
  p: Params,
  f: ParsedTimelineFilters,
  limit: string | null,
  select: string,
  from: string,
): string {
  const { where, transactions } = timelineFilterSql(q, p, f, null);
  if (transactions) where.unshift(`c.transaction_id IN (${transactions})`);
  return `SELECT ${select} FROM ${q}.audit_changes c ${from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY c.captured_at DESC, c.id DESC${limit === null ? '' : ` LIMIT ${limit}`}`;
}

/**
 * The ids of the audit transactions the actor, correlation, request and job filters select
 * (combined with AND), or null for none of them. Each starts from an index: actor_ref, the
 * partial no-actor index, correlation_id, request_id, job_id.
 */
function transactionFilter(
  q: string,
  p: Params,
  f: ParsedTimelineFilters,
): { ids: string; from: string } | null {
  const conditions: string[] = [];
  if (f.actor === 'none') conditions.push('x.actor_ref IS NULL');
  else if (f.actor) conditions.push(`x.actor_ref = ${p.add(Actor.toJSON(f.actor))}::jsonb`);
  if (f.requestId) conditions.push(`x.request_id = ${p.add(f.requestId)}`);
  if (f.jobId) conditions.push(`x.job_id = ${p.add(f.jobId)}`);
  if (!f.correlationId) {
    if (!conditions.length) return null;
    const from = `${q}.audit_transactions x WHERE ${conditions.join(' AND ')}`;
    return { ids: `SELECT x.id FROM ${from}`, from };
  }
  // A transaction carries the correlation id, or an action recorded in it does (record_action
  // sets audit_actions.transaction_id whenever it links the two).
  const c = p.add(f.correlationId);
  const matching = `SELECT x.id FROM ${q}.audit_transactions x WHERE x.correlation_id = ${c}
    UNION SELECT a.transaction_id FROM ${q}.audit_actions a WHERE a.correlation_id = ${c} AND a.transaction_id IS NOT NULL`;
  const from = `${q}.audit_transactions x WHERE x.id IN (${matching})${conditions.map((w) => ` AND ${w}`).join('')}`;
  return { ids: conditions.length ? `SELECT x.id FROM ${from}` : matching, from };
}
