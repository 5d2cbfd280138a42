import { ActorRef } from '../context/actor-ref.js';
import { cleanContextId, getAuditContext } from '../context/context.js';
import { ID_RULE } from '../context/id-rule.js';
import { toThreadlineError } from '../db/db-errors.js';
import type { SqlClient, SqlSession } from '../db/sql-client.js';
import { ThreadlineError } from '../errors.js';
import { hotChannels } from '../telemetry/publish.js';

export interface RecordActionOptions {
  actor?: ActorRef;
  status?: 'ok' | 'error';
  verb?: string;
  category?: string;
  reason?: string;
  comment?: string;
  correlationId?: string;
  requestId?: string;
  jobId?: string;
  /**
   * Record inside this session's transaction and link the action to its audit transaction.
   * Only needed when the transaction is owned by an ORM (adapters pass it); inside
   * tl.transaction the current session is used automatically.
   */
  session?: SqlSession;
}

export interface RecordedAction {
  id: string;
  /** The audit transaction it was linked to, when recorded inside a bound transaction. */
  auditTransactionId: string | null;
}

const MAX_TEXT = 1000;

function optionalText(value: unknown, field: string, max = MAX_TEXT): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string')
    throw new ThreadlineError('INVALID_CONTEXT', `recordAction: ${field} must be a string`);
  if (value.length > max)
    throw new ThreadlineError('INVALID_CONTEXT', `recordAction: ${field} is longer than ${max} characters`);
  return value;
}

function contextId(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  const clean = cleanContextId(value);
  if (clean === undefined)
    throw new ThreadlineError(
      'INVALID_CONTEXT',
      `recordAction: ${field} must be ${ID_RULE} (the database's record_action holds direct SQL callers to the same rule)`,
    );
  return clean;
}

/**
 * Store a semantic action (who did what and why). In `current` (the bound transaction) it is
 * linked to that transaction's audit row. Actor, correlation, request and job ids default from
 * the context. Inside a context with no actor the action is recorded as ActorRef.anonymous();
 * with neither an `actor` option nor a context it throws ThreadlineError('INVALID_ACTOR').
 */
export async function recordAction(
  client: SqlClient,
  q: string,
  current: { session: SqlSession } | undefined,
  name: string,
  options: RecordActionOptions,
): Promise<RecordedAction> {
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200) {
    throw new ThreadlineError(
      'INVALID_CONTEXT',
      'recordAction: name must be a non-empty string of at most 200 characters, e.g. "post.published"',
    );
  }
  const ctx = getAuditContext();
  // The rule: an explicit actor wins, then the context's; inside an audit context that has none
  // (a public route, a request nobody identified) the action is the anonymous actor's; with no
  // actor and no context at all the call is refused (the work was never wrapped: a bug).
  const actor = options.actor
    ? ActorRef.parse(options.actor)
    : (ctx?.actor ?? (ctx ? ActorRef.anonymous() : undefined));
  if (!actor) {
    throw new ThreadlineError(
      'INVALID_ACTOR',
      "recordAction: no actor and no audit context; pass { actor: ActorRef.user(id) } or call it inside runWithAuditContext (or an adapter's middleware)",
    );
  }
  if (options.status !== undefined && options.status !== 'ok' && options.status !== 'error') {
    throw new ThreadlineError('INVALID_CONTEXT', 'recordAction: status must be "ok" or "error"');
  }
  const params = [
    name.trim(),
    ActorRef.toJSON(actor),
    options.status ?? 'ok',
    optionalText(options.verb, 'verb', 200),
    optionalText(options.category, 'category', 200),
    optionalText(options.reason, 'reason'),
    optionalText(options.comment, 'comment', 10_000),
    contextId(options.correlationId ?? ctx?.correlationId, 'correlationId'),
    contextId(options.requestId ?? ctx?.requestId, 'requestId'),
    contextId(options.jobId ?? ctx?.jobId, 'jobId'),
    current !== undefined,
  ];
  const sql = `SELECT action_id::text AS id, transaction_id::text AS tx FROM ${q}.record_action($1, $2::jsonb, $3, $4, $5, $6, $7, $8, $9, $10, $11)`;
  try {
    const { rows } = await (current ? current.session : client).query<{ id: string; tx: string | null }>(
      sql,
      params,
    );
    if (hotChannels.actionRecorded.hasSubscribers)
      hotChannels.actionRecorded.publish({ status: params[2], linked: rows[0]!.tx != null });
    return { id: rows[0]!.id, auditTransactionId: rows[0]!.tx ?? null };
  } catch (error) {
    throw toThreadlineError(error, 'recordAction');
  }
}
