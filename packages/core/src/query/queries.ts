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
class Params {
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
      const k = `(SELECT ${this.q}.row_key(${s}, ${n}, ${p.add(keyText)}::jsonb) AS pk) k`;
      const rest = windowAndCursor(p, window, after);
      const branch = (column: string) =>
        `(SELECT * FROM ${this.q}.audit_changes c WHERE c.table_schema = ${s} AND c.table_name = ${n} AND c.${column} = k.pk
          ${rest.map((w) => `AND ${w}`).join(' ')} ORDER BY c.captured_at DESC, c.id DESC LIMIT ${limit})`;
      return `SELECT ${CHANGE_COLUMNS} FROM ${k} CROSS JOIN LATERAL (${branch('table_pk')} UNION ALL ${branch('table_pk_before')}) c
        JOIN ${this.q}.audit_transactions t ON t.id = c.transaction_id
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
    const rowChanges = `FROM ${this.q}.audit_changes c WHERE c.table_schema = ${s} AND c.table_name = ${n}
        AND (c.table_pk = (SELECT pk FROM k) OR c.table_pk_before = (SELECT pk FROM k))`;
    const entry = (from: string) =>
      `(SELECT to_jsonb(x) FROM (SELECT ${CHANGE_COLUMNS} FROM ${from} c JOIN ${this.q}.audit_transactions t ON t.id = c.transaction_id) x)`;
    const sql = `WITH k AS (SELECT ${this.q}.row_key(${s}, ${n}, ${k}::jsonb) AS pk),
      last AS (SELECT c.* ${rowChanges} AND c.captured_at <= ${ts}::timestamptz ORDER BY c.captured_at DESC, c.id DESC LIMIT 1),
      trunc AS (SELECT c.* FROM ${this.q}.audit_changes c, last l WHERE c.table_schema = ${s} AND c.table_name = ${n} AND c.op = 'truncate'
                  AND c.data_before IS NULL AND (c.captured_at, c.id) > (l.captured_at, l.id) AND c.captured_at <= ${ts}::timestamptz
                ORDER BY c.captured_at, c.id LIMIT 1),
      first AS (SELECT c.op, ${isoSql('c.captured_at')} AS "capturedAt" ${rowChanges}
                  AND c.captured_at > ${ts}::timestamptz ORDER BY c.captured_at, c.id LIMIT 1)
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
    return this.page('timeline', fingerprint, pageSize, (p, limit) => {
      const where = windowAndCursor(p, f, after);
      if (f.table)
        where.push(`c.table_schema = ${p.add(f.table.schema)} AND c.table_name = ${p.add(f.table.name)}`);
      else if (f.tableSchema) where.push(`c.table_schema = ${p.add(f.tableSchema)}`);
      if (f.actor) {
        where.push(
          `c.transaction_id IN (SELECT x.id FROM ${this.q}.audit_transactions x WHERE x.actor_ref = ${p.add(Actor.toJSON(f.actor))}::jsonb)`,
        );
      }
      if (f.correlationId) {
        const c = p.add(f.correlationId);
        where.push(`c.transaction_id IN (
          SELECT x.id FROM ${this.q}.audit_transactions x WHERE x.correlation_id = ${c}
          UNION SELECT x.id FROM ${this.q}.audit_actions a JOIN ${this.q}.audit_transactions x ON x.action_id = a.id WHERE a.correlation_id = ${c}
          UNION SELECT a.transaction_id FROM ${this.q}.audit_actions a WHERE a.correlation_id = ${c} AND a.transaction_id IS NOT NULL)`);
      }
      return `SELECT ${CHANGE_COLUMNS} FROM (SELECT * FROM ${this.q}.audit_changes c
          ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY c.captured_at DESC, c.id DESC LIMIT ${limit}) c
        JOIN ${this.q}.audit_transactions t ON t.id = c.transaction_id ORDER BY c.captured_at DESC, c.id DESC`;
    });
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
