import type { ActorRef } from '../actor-ref.js';
import { ActorRef as Actor } from '../actor-ref.js';
import { toThreadlineError } from '../db-errors.js';
import type { TableName } from '../identifiers.js';
import { asOfQuery } from './as-of.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import { incidentQuery, type TransactionFilter, transactionsQuery } from './incident.js';
import { type MaskColumn, MaskRegistry } from './mask-registry.js';
import { CHANGE_COLUMNS, type ChangeRow, toChange } from './rows.js';
import { Params, type Run, transactionOf, windowAndCursor } from './sql-parts.js';
import type {
  AsOfResult,
  AuditChange,
  AuditTransactionInfo,
  IncidentBundle,
  IncidentOptions,
  Page,
  PageOptions,
  RowKey,
  TimeWindow,
} from './types.js';
import {
  keyJson,
  type ParsedTimelineFilters,
  parseActor,
  parsePageOptions,
  parsePageSize,
  parseTable,
  parseTimelineFilters,
  parseWindow,
  type TimelineFilters,
} from './validate.js';

/** The exploration queries behind tl.history, tl.asOf, tl.actorHistory, tl.timeline, tl.auditTransaction. */
export class AuditQueries {
  private readonly masks: MaskRegistry;

  constructor(
    private readonly run: Run,
    private readonly q: string,
  ) {
    this.masks = new MaskRegistry(run, q);
  }

  private async page(
    what: string,
    fingerprint: string,
    pageSize: number,
    build: (p: Params, limit: string) => string,
  ): Promise<Page<AuditChange>> {
    const p = new Params();
    // One statement: the page, and the registry entries of the tables on it (read once).
    const sql = this.masks.withMasks(build(p, p.add(pageSize + 1)));
    let rows: (ChangeRow & MaskColumn)[];
    try {
      rows = await this.run<ChangeRow & MaskColumn>(sql, p.values);
    } catch (error) {
      throw toThreadlineError(error, what);
    }
    const hasMore = rows.length > pageSize;
    const entries = rows.slice(0, pageSize).map(toChange);
    this.masks.remember(entries, rows[0]?.masks ?? null);
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
  asOf(table: string, key: RowKey, at: Date | string): Promise<AsOfResult> {
    return asOfQuery(this.run, this.q, table, key, at);
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
    return this.page('timeline', fingerprint, pageSize, (p, limit) => {
      const where = windowAndCursor(p, f, after);
      if (f.table)
        where.push(`c.table_schema = ${p.add(f.table.schema)} AND c.table_name = ${p.add(f.table.name)}`);
      else if (f.tableSchema) where.push(`c.table_schema = ${p.add(f.tableSchema)}`);
      const transactions = this.transactionFilter(p, f);
      const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
      if (!transactions) {
        // Newest first straight off an index: the primary key (captured_at, id), or
        // (table_schema, table_name, captured_at, id) for a table.
        return `SELECT ${CHANGE_COLUMNS} FROM (SELECT * FROM ${this.q}.audit_changes c ${cond}
            ORDER BY c.captured_at DESC, c.id DESC LIMIT ${limit}) c
          ${transactionOf(this.q)} ORDER BY c.captured_at DESC, c.id DESC`;
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
        `SELECT c.captured_at, c.id FROM ${this.q}.audit_changes c WHERE ${inner} ORDER BY c.captured_at DESC, c.id DESC LIMIT ${n}`;
      return `WITH tops AS MATERIALIZED (
          SELECT x.id, s.captured_at, s.id AS change_id FROM (${transactions}) x CROSS JOIN LATERAL (${newest('1')}) s
          ORDER BY s.captured_at DESC, s.id DESC LIMIT ${limit}),
        ranked AS (SELECT tops.id, row_number() OVER (ORDER BY tops.captured_at DESC, tops.change_id DESC) AS rank FROM tops),
        page AS MATERIALIZED (
          SELECT s.captured_at, s.id FROM ranked x CROSS JOIN LATERAL (${newest(`(${limit}::int - x.rank + 1)`)}) s
          ORDER BY s.captured_at DESC, s.id DESC LIMIT ${limit})
        SELECT ${CHANGE_COLUMNS} FROM page
          JOIN ${this.q}.audit_changes c ON c.captured_at = page.captured_at AND c.id = page.id
          ${transactionOf(this.q)}
        ORDER BY c.captured_at DESC, c.id DESC`;
    });
  }

  /**
   * The ids of the audit transactions the actor, correlation, request and job filters select
   * (combined with AND), or null for none of them. Each starts from an index: actor_ref, the
   * partial no-actor index, correlation_id, request_id, job_id.
   */
  private transactionFilter(p: Params, f: ParsedTimelineFilters): string | null {
    const conditions: string[] = [];
    if (f.actor === 'none') conditions.push('x.actor_ref IS NULL');
    else if (f.actor) conditions.push(`x.actor_ref = ${p.add(Actor.toJSON(f.actor))}::jsonb`);
    if (f.requestId) conditions.push(`x.request_id = ${p.add(f.requestId)}`);
    if (f.jobId) conditions.push(`x.job_id = ${p.add(f.jobId)}`);
    if (!f.correlationId)
      return conditions.length
        ? `SELECT x.id FROM ${this.q}.audit_transactions x WHERE ${conditions.join(' AND ')}`
        : null;
    // A transaction carries the correlation id, or an action recorded in it does (record_action
    // sets audit_actions.transaction_id whenever it links the two).
    const c = p.add(f.correlationId);
    const matching = `SELECT x.id FROM ${this.q}.audit_transactions x WHERE x.correlation_id = ${c}
      UNION SELECT a.transaction_id FROM ${this.q}.audit_actions a WHERE a.correlation_id = ${c} AND a.transaction_id IS NOT NULL`;
    return conditions.length
      ? `SELECT x.id FROM ${this.q}.audit_transactions x WHERE x.id IN (${matching}) AND ${conditions.join(' AND ')}`
      : matching;
  }

  /** One transaction with its actor, context ids, actions and changes with their diffs; null when unknown. */
  auditTransaction(
    id: string | number | bigint,
    options: IncidentOptions = {},
  ): Promise<IncidentBundle | null> {
    return incidentQuery(this.run, this.q, this.masks, id, options);
  }

  /** The audit transactions of one request or job, oldest first. */
  auditTransactions(
    filter: TransactionFilter,
    options: PageOptions = {},
  ): Promise<Page<AuditTransactionInfo>> {
    return transactionsQuery(this.run, this.q, filter, options);
  }

  /** The diff of a change, flagged by the registry entry read with the query that returned it. */
  diff(change: AuditChange) {
    return this.masks.diff(change);
  }
}

export type { TableName };
