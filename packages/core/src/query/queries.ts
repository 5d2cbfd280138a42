import type { ActorRef } from '../actor-ref.js';
import { ActorRef as Actor } from '../actor-ref.js';
import { toThreadlineError } from '../db-errors.js';
import type { TableName } from '../identifiers.js';
import { changeDiff, type MaskInfo } from './change-diff.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import {
  ACTION_COLUMNS,
  type ActionRow,
  CHANGE_COLUMNS,
  type ChangeRow,
  isoSql,
  TRANSACTION_COLUMNS,
  type TransactionRow,
  toAction,
  toChange,
  toTransaction,
} from './rows.js';
import type {
  AsOfResult,
  AuditChange,
  ChangeOp,
  IncidentBundle,
  Page,
  PageOptions,
  RowKey,
  TimeWindow,
} from './types.js';
import {
  invalid,
  keyJson,
  type ParsedTimelineFilters,
  parseActor,
  parseInstant,
  parsePageOptions,
  parsePageSize,
  parseTable,
  parseTimelineFilters,
  parseWindow,
  type TimelineFilters,
} from './validate.js';

type Run = <R>(sql: string, params: unknown[]) => Promise<R[]>;

/** Builds `$n` placeholders while collecting parameters. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Conditions shared by every change list: time window and keyset cursor. */
function windowAndCursor(
  p: Params,
  window: { from: string | null; to: string | null },
  after: { capturedAt: string; id: string } | null,
): string[] {
  const where: string[] = [];
  if (window.from) where.push(`c.captured_at >= ${p.add(window.from)}::timestamptz`);
  if (window.to) where.push(`c.captured_at <= ${p.add(window.to)}::timestamptz`);
  if (after)
    where.push(
      `(c.captured_at, c.id) < (${p.add(after.capturedAt)}::timestamptz, ${p.add(after.id)}::bigint)`,
    );
  return where;
}

/**
 * Joins each change row `c` to its transaction `t` one primary-key lookup at a time. A plain JOIN
 * lets the planner hash the whole audit_transactions table for a 50-row page once it is small
 * enough to look cheap, which makes page cost grow with the number of transactions.
 */
const transactionOf = (q: string, columns = 't.actor_ref, t.correlation_id') =>
  `CROSS JOIN LATERAL (SELECT ${columns} FROM ${q}.audit_transactions t WHERE t.id = c.transaction_id OFFSET 0) t`;

/** What a timeline page selects: columns of `c` and `t`, and the transaction columns `t` carries. */
export interface TimelineSelect {
  columns: string;
  transactionColumns?: string;
}

/**
 * The timeline's filter conditions on `c` (audit_changes), after the keyset position `after`,
 * and the subquery of transaction ids an actor or correlation filter selects (null for neither).
 * Shared by tl.timeline and tl.export, so both filter exactly alike.
 */
export function timelineFilterSql(
  q: string,
  p: Params,
  f: ParsedTimelineFilters,
  after: { capturedAt: string; id: string } | null,
): { where: string[]; transactions: string | null } {
  const where = windowAndCursor(p, f, after);
  if (f.table)
    where.push(`c.table_schema = ${p.add(f.table.schema)} AND c.table_name = ${p.add(f.table.name)}`);
  else if (f.tableSchema) where.push(`c.table_schema = ${p.add(f.tableSchema)}`);
  return { where, transactions: transactionFilter(q, p, f) };
}

/** One timeline page (newest first, at most `limit` rows after `after`) selecting `select`. */
export function timelineSql(
  q: string,
  p: Params,
  f: ParsedTimelineFilters,
  after: { capturedAt: string; id: string } | null,
  limit: string,
  select: TimelineSelect,
): string {
  const { where, transactions } = timelineFilterSql(q, p, f, after);
  const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
  if (!transactions) {
    // Newest first straight off an index: the primary key (captured_at, id), or
    // (table_schema, table_name, captured_at, id) for a table.
    return `SELECT ${select.columns} FROM (SELECT * FROM ${q}.audit_changes c ${cond}
          ORDER BY c.captured_at DESC, c.id DESC LIMIT ${limit}) c
        ${transactionOf(q, select.transactionColumns)} ORDER BY c.captured_at DESC, c.id DESC`;
  }
  // Actor and correlation filters select transactions; their changes are merged newest
  // first off (transaction_id, captured_at, id), index-only without a table filter:
  // 1. tops: each matching transaction's newest matching change (one index probe each);
  //    only the `limit` transactions with the newest tops can hold a change of the page.
  // 2. the transaction ranked r by its top has r - 1 tops newer than all of its changes, so
  //    it contributes at most limit - r + 1 changes: at most limit * (limit + 1) / 2 index
  //    entries in all, however many changes the actor or the transactions have.
  // 3. only the page's rows are read in full.
  const inner = [`c.transaction_id = x.id`, ...where].join(' AND ');
  const newest = (n: string) =>
    `SELECT c.captured_at, c.id FROM ${q}.audit_changes c WHERE ${inner} ORDER BY c.captured_at DESC, c.id DESC LIMIT ${n}`;
  return `WITH tops AS MATERIALIZED (
        SELECT x.id, s.captured_at, s.id AS change_id FROM (${transactions}) x CROSS JOIN LATERAL (${newest('1')}) s
        ORDER BY s.captured_at DESC, s.id DESC LIMIT ${limit}),
      ranked AS (SELECT tops.id, row_number() OVER (ORDER BY tops.captured_at DESC, tops.change_id DESC) AS rank FROM tops),
      page AS MATERIALIZED (
        SELECT s.captured_at, s.id FROM ranked x CROSS JOIN LATERAL (${newest(`(${limit}::int - x.rank + 1)`)}) s
        ORDER BY s.captured_at DESC, s.id DESC LIMIT ${limit})
      SELECT ${select.columns} FROM page
        JOIN ${q}.audit_changes c ON c.captured_at = page.captured_at AND c.id = page.id
        ${transactionOf(q, select.transactionColumns)}
      ORDER BY c.captured_at DESC, c.id DESC`;
}

/** The ids of the audit transactions an actor or correlation filter selects, or null for neither. */
function transactionFilter(q: string, p: Params, f: ParsedTimelineFilters): string | null {
  if (!f.actor && !f.correlationId) return null;
  const actor = f.actor ? `x.actor_ref = ${p.add(Actor.toJSON(f.actor))}::jsonb` : null;
  if (!f.correlationId) return `SELECT x.id FROM ${q}.audit_transactions x WHERE ${actor}`;
  // A transaction carries the correlation id, or an action recorded in it does (record_action
  // sets audit_actions.transaction_id whenever it links the two).
  const c = p.add(f.correlationId);
  const matching = `SELECT x.id FROM ${q}.audit_transactions x WHERE x.correlation_id = ${c}
    UNION SELECT a.transaction_id FROM ${q}.audit_actions a WHERE a.correlation_id = ${c} AND a.transaction_id IS NOT NULL`;
  return actor
    ? `SELECT x.id FROM ${q}.audit_transactions x WHERE x.id IN (${matching}) AND ${actor}`
    : matching;
}

/** The exploration queries behind tl.history, tl.asOf, tl.actorHistory, tl.timeline, tl.auditTransaction. */
export class AuditQueries {
  constructor(
    private readonly run: Run,
    private readonly q: string,
    private readonly maskFor: (schema: string, table: string) => MaskInfo | undefined,
  ) {}

  private async page(
    what: string,
    fingerprint: string,
    pageSize: number,
    build: (p: Params, limit: string) => string,
  ): Promise<Page<AuditChange>> {
    const p = new Params();
    const sql = build(p, p.add(pageSize + 1));
    let rows: ChangeRow[];
    try {
      rows = await this.run<ChangeRow>(sql, p.values);
    } catch (error) {
      throw toThreadlineError(error, what);
    }
    const hasMore = rows.length > pageSize;
    const entries = rows.slice(0, pageSize).map(toChange);
    const last = entries[entries.length - 1];
    return {
      entries,
      hasMore,
      cursor: hasMore && last ? encodeCursor(last.capturedAt, last.id, fingerprint) : null,
    };
  }

  /** Changes of one row, newest first; includes the UPDATE that gave it this key or took it away. */
  async history(
    table: string,
    key: RowKey,
    options: TimeWindow & PageOptions = {},
  ): Promise<Page<AuditChange>> {
    const opts = parsePageOptions(options, ['from', 'to'], 'history');
    const t = parseTable(table, undefined, 'history');
    const keyText = keyJson(key, 'history');
    const window = parseWindow(opts, 'history');
    const pageSize = parsePageSize(opts.pageSize, 'history');
    const fingerprint = queryFingerprint(['history', t, keyText, window]);
    const after = decodeCursor(opts.cursor, fingerprint);
    return this.page('history', fingerprint, pageSize, (p, limit) => {
      const s = p.add(t.schema);
      const n = p.add(t.name);
      // row_key() runs first (outer side of the lateral join), so a bad key or an unknown table
      // is reported even when the table has no audit rows at all.
      // OFFSET 0 keeps the key a single evaluated value (not folded into both branches and the planner's estimates).
      const k = `(SELECT ${this.q}.row_key(${s}, ${n}, ${p.add(keyText)}::jsonb) AS pk OFFSET 0) k`;
      const rest = windowAndCursor(p, window, after);
      const branch = (column: string) =>
        `(SELECT * FROM ${this.q}.audit_changes c WHERE c.table_schema = ${s} AND c.table_name = ${n} AND c.${column} = k.pk
          ${rest.map((w) => `AND ${w}`).join(' ')} ORDER BY c.captured_at DESC, c.id DESC LIMIT ${limit})`;
      return `SELECT ${CHANGE_COLUMNS} FROM ${k} CROSS JOIN LATERAL (${branch('table_pk')} UNION ALL ${branch('table_pk_before')}) c
        ${transactionOf(this.q)}
        ORDER BY c.captured_at DESC, c.id DESC LIMIT ${limit}`;
    });
  }

  /** The row as it was at `at`: found, deleted (with the last row before deletion) or before the audit horizon. */
  async asOf(table: string, key: RowKey, at: Date | string): Promise<AsOfResult> {
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
    const rowChanges = (cmp: string, dir: 'ASC' | 'DESC', cols: string) =>
      ['table_pk', 'table_pk_before']
        .map(
          (
            column,
          ) => `(SELECT ${cols} FROM ${this.q}.audit_changes c WHERE c.table_schema = ${s} AND c.table_name = ${n}
            AND c.${column} = (SELECT pk FROM k) AND c.captured_at ${cmp} ${ts}::timestamptz
            ORDER BY c.captured_at ${dir}, c.id ${dir} LIMIT 1)`,
        )
        .join(' UNION ALL ');
    const entry = (from: string) =>
      `(SELECT to_jsonb(x) FROM (SELECT ${CHANGE_COLUMNS} FROM ${from} c ${transactionOf(this.q)}) x)`;
    const sql = `WITH k AS MATERIALIZED (SELECT ${this.q}.row_key(${s}, ${n}, ${k}::jsonb) AS pk),
      last AS MATERIALIZED (SELECT * FROM (${rowChanges('<=', 'DESC', 'c.*')}) c ORDER BY c.captured_at DESC, c.id DESC LIMIT 1),
      trunc AS (SELECT c.* FROM ${this.q}.audit_changes c, last l WHERE c.table_schema = ${s} AND c.table_name = ${n} AND c.op = 'truncate'
                  AND c.data_before IS NULL AND (c.captured_at, c.id) > (l.captured_at, l.id) AND c.captured_at <= ${ts}::timestamptz
                ORDER BY c.captured_at, c.id LIMIT 1),
      first AS (SELECT c.op, ${isoSql('c.captured_at')} AS "capturedAt"
                  FROM (${rowChanges('>', 'ASC', 'c.op, c.captured_at, c.id')}) c ORDER BY c.captured_at, c.id LIMIT 1)
      SELECT (SELECT pk FROM k) AS pk, ${entry('last')} AS last, ${entry('trunc')} AS trunc, (SELECT to_jsonb(f) FROM first f) AS first`;
    let row:
      | {
          pk: Record<string, unknown>;
          last: ChangeRow | null;
          trunc: ChangeRow | null;
          first: { op: ChangeOp; capturedAt: string } | null;
        }
      | undefined;
    try {
      [row] = await this.run(sql, p.values);
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
    if (trunc)
      return {
        status: 'deleted',
        lastRow: change.dataAfter,
        deletedAt: trunc.captured_at,
        change: toChange(trunc),
      };
    if (change.op === 'truncate')
      return { status: 'deleted', lastRow: null, deletedAt: change.capturedAt, change };
    return { status: 'found', row: change.dataAfter ?? {}, change };
  }

  /** Changes made in transactions bound to `actor`, newest first. */
  async actorHistory(
    actor: ActorRef | string,
    options: TimeWindow & PageOptions = {},
  ): Promise<Page<AuditChange>> {
    const opts = parsePageOptions(options, ['from', 'to'], 'actorHistory');
    return this.timeline(
      { actor: parseActor(actor, 'actorHistory'), from: opts.from, to: opts.to },
      { cursor: opts.cursor, pageSize: opts.pageSize },
    );
  }

  /** Changes matching the filters, newest first. */
  async timeline(filters: TimelineFilters = {}, options: PageOptions = {}): Promise<Page<AuditChange>> {
    const f = parseTimelineFilters(filters);
    const opts = parsePageOptions(options, [], 'timeline');
    const pageSize = parsePageSize(opts.pageSize, 'timeline');
    const fingerprint = queryFingerprint(['timeline', f]);
    const after = decodeCursor(opts.cursor, fingerprint);
    return this.page('timeline', fingerprint, pageSize, (p, limit) =>
      timelineSql(this.q, p, f, after, limit, { columns: CHANGE_COLUMNS }),
    );
  }

  /** One transaction with its actor, context ids, actions and every change with its diff; null when unknown. */
  async auditTransaction(
    id: string | number | bigint,
    options: { changeLimit?: number } = {},
  ): Promise<IncidentBundle | null> {
    const text =
      typeof id === 'string' ? id.trim() : typeof id === 'number' || typeof id === 'bigint' ? String(id) : '';
    if (!/^\d{1,19}$/.test(text) || BigInt(text) > 9223372036854775807n) {
      throw invalid(
        `auditTransaction: id must be a positive integer (the audit transaction id), got ${JSON.stringify(String(id).slice(0, 40))}`,
      );
    }
    const limit = options.changeLimit ?? 10_000;
    if (!Number.isInteger(limit) || limit < 1)
      throw invalid('auditTransaction: changeLimit must be a positive integer');
    try {
      const [tx] = await this.run<TransactionRow>(
        `SELECT ${TRANSACTION_COLUMNS} FROM ${this.q}.audit_transactions t WHERE t.id = $1::bigint`,
        [text],
      );
      if (!tx) return null;
      const actions = await this.run<ActionRow>(
        `SELECT ${ACTION_COLUMNS} FROM ${this.q}.audit_actions a WHERE a.transaction_id = $1::bigint OR a.id = $2::uuid ORDER BY a.inserted_at, a.id`,
        [text, tx.action_id],
      );
      const changes = await this.run<ChangeRow>(
        `SELECT ${CHANGE_COLUMNS} FROM ${this.q}.audit_changes c JOIN ${this.q}.audit_transactions t ON t.id = c.transaction_id
          WHERE c.transaction_id = $1::bigint ORDER BY c.captured_at, c.id LIMIT $2`,
        [text, limit],
      );
      const infos = actions.map(toAction);
      return {
        transaction: toTransaction(tx),
        action: infos.find((a) => a.id === tx.action_id) ?? null,
        actions: infos,
        changes: changes.map(toChange).map((change) => ({ change, diff: this.diff(change) })),
      };
    } catch (error) {
      throw toThreadlineError(error, 'auditTransaction');
    }
  }

  diff(change: AuditChange) {
    return changeDiff(change, this.maskFor(change.tableSchema, change.tableName));
  }
}

export type { TableName };
