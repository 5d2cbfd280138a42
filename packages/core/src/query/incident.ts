import type { ActorRef } from '../context/actor-ref.js';
import { LOOKUP_ID_RULE, lookupId } from '../context/id-rule.js';
import { toThreadlineError } from '../db/db-errors.js';
import { safeText } from '../safe-text.js';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.js';
import { exactJsonb } from './exact-json.js';
import type { MaskRegistry } from './mask-registry.js';
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
import type { Run } from './sql-parts.js';
import type { AuditTransactionInfo, IncidentBundle, IncidentOptions, Page, PageOptions } from './types.js';
import { checkKeys, invalid, parsePageOptions, parsePageSize } from './validate.js';

/** The most changes one incident bundle holds; page on with changeCursor. */
const MAX_INCIDENT_CHANGES = 10_000;

function transactionIdText(id: unknown): string {
  const text =
    typeof id === 'string' ? id.trim() : typeof id === 'number' || typeof id === 'bigint' ? String(id) : '';
  if (!/^\d{1,19}$/.test(text) || BigInt(text) < 1n || BigInt(text) > 9223372036854775807n) {
    throw invalid(
      `auditTransaction: id must be a positive integer (the audit transaction id, the tx column of history and timeline), got ${JSON.stringify(safeText(id).slice(0, 40))}`,
    );
  }
  return BigInt(text).toString();
}

/** The keys tl.auditTransaction's options may have. */
export const INCIDENT_OPTION_KEYS = ['changeLimit', 'changeCursor', 'consistency'];

/**
 * One transaction with its actor, context ids, actions and its changes with their diffs, in
 * capture order; null when unknown. At most `changeLimit` changes per call: `changeCount` says how
 * many there are, and while `hasMoreChanges`, `changeCursor` continues with the next ones.
 */
export async function incidentQuery(
  run: Run,
  q: string,
  masks: MaskRegistry,
  id: string | number | bigint,
  options: IncidentOptions = {},
): Promise<IncidentBundle | null> {
  const text = transactionIdText(id);
  const opts = checkKeys(options, INCIDENT_OPTION_KEYS, 'auditTransaction options') as IncidentOptions;
  const limit = opts.changeLimit ?? MAX_INCIDENT_CHANGES;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_INCIDENT_CHANGES)
    throw invalid(`auditTransaction: changeLimit must be an integer from 1 to ${MAX_INCIDENT_CHANGES}`);
  const fingerprint = queryFingerprint(['incident', text]);
  const after = decodeCursor(opts.changeCursor, fingerprint);
  try {
    const [tx] = await run<TransactionRow>(
      `SELECT ${TRANSACTION_COLUMNS} FROM ${q}.audit_transactions t WHERE t.id = $1::bigint`,
      [text],
    );
    if (!tx) return null;
    const actions = await run<ActionRow>(
      `SELECT ${ACTION_COLUMNS} FROM ${q}.audit_actions a WHERE a.transaction_id = $1::bigint OR a.id = $2::uuid ORDER BY a.inserted_at, a.id`,
      [text, tx.action_id],
    );
    // In capture order off (transaction_id, captured_at, id); the count is index-only.
    const rows = await run<ChangeRow & { total: string }>(
      `SELECT ${CHANGE_COLUMNS}, n.total FROM (SELECT count(*)::text AS total FROM ${q}.audit_changes WHERE transaction_id = $1::bigint) n
        LEFT JOIN LATERAL (SELECT * FROM ${q}.audit_changes c WHERE c.transaction_id = $1::bigint
          ${after ? 'AND (c.captured_at, c.id) > ($3::timestamptz, $4::bigint)' : ''}
          ORDER BY c.captured_at, c.id LIMIT $2) c ON true
        LEFT JOIN LATERAL (SELECT t.actor_ref, t.correlation_id FROM ${q}.audit_transactions t WHERE t.id = c.transaction_id) t ON true
        ORDER BY c.captured_at, c.id`,
      after ? [text, limit + 1, after.capturedAt, after.id] : [text, limit + 1],
    );
    const found = rows.filter((r) => r.id !== null);
    const hasMore = found.length > limit;
    const changes = found.slice(0, limit).map(toChange);
    await masks.refresh(run, changes, 'auditTransaction');
    const lastChange = changes[changes.length - 1];
    const infos = actions.map(toAction);
    // Reverts of this transaction (or of its correlation bundle): tl.revert.apply sets source
    // 'threadline:revert' and the causation id to what it reverted.
    const reverts = await run<{ id: string; actor_ref: string | null; at: string; action_id: string | null }>(
      `SELECT t.id::text AS id, t.actor_ref::text AS actor_ref, ${isoSql('t.occurred_at')} AS at,
         (SELECT a.id::text FROM ${q}.audit_actions a WHERE a.transaction_id = t.id AND a.name = 'threadline.revert' LIMIT 1) AS action_id
         FROM ${q}.audit_transactions t WHERE t.source = 'threadline:revert' AND t.causation_id IN ($1, $2) ORDER BY t.occurred_at, t.id`,
      [text, tx.correlation_id],
    );
    return {
      transaction: toTransaction(tx),
      action: infos.find((a) => a.id === tx.action_id) ?? null,
      actions: infos,
      changes: changes.map((change) => ({ change, diff: masks.diff(change) })),
      changeCount: Number(rows[0]?.total ?? 0),
      hasMoreChanges: hasMore,
      changeCursor:
        hasMore && lastChange ? encodeCursor(lastChange.capturedAt, lastChange.id, fingerprint) : null,
      revertedBy: reverts.map((r) => ({
        auditTransactionId: r.id,
        actor: exactJsonb(r.actor_ref) as ActorRef | null,
        at: r.at,
        actionId: r.action_id,
      })),
    };
  } catch (error) {
    throw toThreadlineError(error, 'auditTransaction');
  }
}

/** Which transactions of a request or job: exactly one of requestId, jobId. */
export interface TransactionFilter {
  requestId?: string;
  jobId?: string;
}

/**
 * The audit transactions of one request or one job (every transaction that carried its request
 * id or job id), oldest first (`occurredAt`, then id), a page at a time.
 */
export async function transactionsQuery(
  run: Run,
  q: string,
  filter: TransactionFilter,
  options: PageOptions = {},
): Promise<Page<AuditTransactionInfo>> {
  const f = checkKeys(filter, ['requestId', 'jobId'], 'auditTransactions filter') as TransactionFilter;
  const opts = parsePageOptions(options, [], 'auditTransactions');
  const given = (['requestId', 'jobId'] as const).filter((k) => f[k] !== undefined && f[k] !== null);
  if (given.length !== 1) throw invalid('auditTransactions: give exactly one of requestId, jobId');
  const field = given[0]!;
  const value = lookupId(f[field]);
  if (value === undefined) throw invalid(`auditTransactions: ${field} must be ${LOOKUP_ID_RULE}`);
  const pageSize = parsePageSize(opts.pageSize, 'auditTransactions');
  const fingerprint = queryFingerprint(['transactions', field, value]);
  const after = decodeCursor(opts.cursor, fingerprint);
  const column = field === 'requestId' ? 'request_id' : 'job_id';
  let rows: TransactionRow[];
  try {
    rows = await run<TransactionRow>(
      `SELECT ${TRANSACTION_COLUMNS} FROM ${q}.audit_transactions t WHERE t.${column} = $1
        ${after ? 'AND (t.occurred_at, t.id) > ($3::timestamptz, $4::bigint)' : ''}
        ORDER BY t.occurred_at, t.id LIMIT $2`,
      after ? [value, pageSize + 1, after.capturedAt, after.id] : [value, pageSize + 1],
    );
  } catch (error) {
    throw toThreadlineError(error, 'auditTransactions');
  }
  const hasMore = rows.length > pageSize;
  const entries = rows.slice(0, pageSize).map(toTransaction);
  const last = entries[entries.length - 1];
  return {
    entries,
    hasMore,
    cursor: hasMore && last ? encodeCursor(last.occurredAt, last.id, fingerprint) : null,
  };
}
