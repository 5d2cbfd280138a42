import type { ActorRef } from '../context/actor-ref.js';
import { toThreadlineError } from '../db/db-errors.js';
import { parseConsistency, type ReadConsistency, type ReadOptions } from '../db/read-routing.js';
import { asOfQuery } from './as-of.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import {
  INCIDENT_OPTION_KEYS,
  incidentQuery,
  type TransactionFilter,
  transactionsQuery,
} from './incident.js';
import { type MaskColumn, MaskRegistry } from './mask-registry.js';
import { CHANGE_COLUMNS, type ChangeRow, toChange } from './rows.js';
import { Params, type Run, transactionOf, windowAndCursor } from './sql-parts.js';
import { keyHash, scopeRows, tableScope } from './table-scope.js';
import { timelineSql } from './timeline-sql.js';
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
  checkKeys,
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

/**
 * The exploration queries behind tl.history, tl.asOf, tl.actorHistory, tl.timeline,
 * tl.auditTransaction. Each runs on `runFor(consistency)`: readDb by default, db for
 * `{ consistency: 'primary' }` (and inside tl.transaction, that transaction).
 */
export class AuditQueries {
  private readonly masks: MaskRegistry;

  constructor(
    private readonly runFor: (consistency: ReadConsistency) => Run,
    private readonly q: string,
  ) {
    this.masks = new MaskRegistry(q);
  }

  private runOf(options: ReadOptions | undefined, what: string): Run {
    return this.runFor(parseConsistency(options?.consistency, what));
  }

  private async page(
    what: string,
    run: Run,
    fingerprint: string,
    pageSize: number,
    build: (p: Params, limit: string) => string,
  ): Promise<Page<AuditChange>> {
    const p = new Params();
    // One statement: the page, and the registry entries of the tables on it (read once).
    const sql = this.masks.withMasks(build(p, p.add(pageSize + 1)));
    let rows: (ChangeRow & MaskColumn)[];
    try {
      rows = await run<ChangeRow & MaskColumn>(sql, p.values);
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
    return this.page('history', this.runOf(opts, 'history'), fingerprint, pageSize, (p, limit) => {
      const s = p.add(t.schema);
      const n = p.add(t.name);
      // row_key() runs first (outer side of the lateral join), so a bad key or an unknown table
      // is reported even when the table has no audit rows at all.
      // OFFSET 0 keeps the key a single evaluated value (not folded into both branches and the planner's estimates).
      const k = `(SELECT ${this.q}.row_key(${s}, ${n}, ${p.add(keyText)}::jsonb) AS pk OFFSET 0) k`;
      const rest = windowAndCursor(p, window, after);
      // By table id and key hash (the full key rechecked), and by key before (a key change).
      const scope = tableScope(this.q, s, n);
      const branch = (column: string) =>
        scopeRows(this.q, scope, {
          select: '*',
          keyed: column === 'table_pk' ? [`c.key_hash = ${keyHash('k.pk')}`] : [],
          where: [`c.${column} = k.pk`, ...rest],
          order: 'c.captured_at DESC, c.id DESC',
          limit,
        });
      return `SELECT ${CHANGE_COLUMNS} FROM ${k} CROSS JOIN LATERAL (${branch('table_pk')} UNION ALL ${branch('table_pk_before')}) c
        ${transactionOf(this.q)}
        ORDER BY c.captured_at DESC, c.id DESC LIMIT ${limit}`;
    });
  }

  /** The row as it was at `at`: found, deleted (with the last row before deletion) or before the audit horizon. */
  async asOf(table: string, key: RowKey, at: Date | string, options: ReadOptions = {}): Promise<AsOfResult> {
    const opts = checkKeys(options, ['consistency'], 'asOf options') as ReadOptions;
    return asOfQuery(this.runOf(opts, 'asOf'), this.q, table, key, at);
  }

  /** Changes made in transactions bound to `actor`, newest first. */
  async actorHistory(
    actor: ActorRef | string,
    options: TimeWindow & PageOptions = {},
  ): Promise<Page<AuditChange>> {
    const what = 'actorHistory';
    const opts = parsePageOptions(options, ['from', 'to'], what);
    const f = parseTimelineFilters(
      { actor: parseActor(actor, what), from: opts.from, to: opts.to },
      [],
      what,
    );
    return this.timelinePage(f, opts, what);
  }

  /** Changes matching the filters, newest first. */
  async timeline(filters: TimelineFilters = {}, options: PageOptions = {}): Promise<Page<AuditChange>> {
    const f = parseTimelineFilters(filters);
    return this.timelinePage(f, parsePageOptions(options, [], 'timeline'), 'timeline');
  }

  /** A timeline page; `what` (timeline or actorHistory) names the read in its errors. */
  private timelinePage(
    f: ParsedTimelineFilters,
    opts: PageOptions,
    what: string,
  ): Promise<Page<AuditChange>> {
    const pageSize = parsePageSize(opts.pageSize, what);
    // actorHistory's cursors are the timeline's (the same query), so the fingerprint says timeline.
    const fingerprint = queryFingerprint(['timeline', f]);
    const after = decodeCursor(opts.cursor, fingerprint);
    return this.page(what, this.runOf(opts, what), fingerprint, pageSize, (p, limit) =>
      timelineSql(this.q, p, f, after, limit, { columns: CHANGE_COLUMNS }),
    );
  }

  /** One transaction with its actor, context ids, actions and changes with their diffs; null when unknown. */
  async auditTransaction(
    id: string | number | bigint,
    options: IncidentOptions = {},
  ): Promise<IncidentBundle | null> {
    const opts = checkKeys(options, INCIDENT_OPTION_KEYS, 'auditTransaction options') as IncidentOptions;
    return incidentQuery(this.runOf(opts, 'auditTransaction'), this.q, this.masks, id, opts);
  }

  /** The audit transactions of one request or job, oldest first. */
  async auditTransactions(
    filter: TransactionFilter,
    options: PageOptions = {},
  ): Promise<Page<AuditTransactionInfo>> {
    const opts = parsePageOptions(options, [], 'auditTransactions');
    return transactionsQuery(this.runOf(opts, 'auditTransactions'), this.q, filter, opts);
  }

  /** The diff of a change, flagged by the registry entry read with the query that returned it. */
  diff(change: AuditChange) {
    return this.masks.diff(change);
  }
}
